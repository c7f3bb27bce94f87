package natstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a JetStream cluster of nats-servers in the test process, all on
// loopback, each storing under its own temporary directory.
type Cluster struct {
	// Servers are the nodes, named n1, n2, ... in Name order. A node
	// stopped with Stop can be started again with Restart: it keeps its
	// client and cluster ports and its store.
	Servers []*Server
	t       testing.TB
}

// RunCluster starts an n-node JetStream cluster and returns once every node
// accepts connections; the nodes are shut down when the test ends. The
// JetStream meta leader is elected a few seconds later: call WaitJetStream
// before creating streams.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: cluster of %d nodes", n)
	}
	// Routes name each node's cluster port up front, so the ports are
	// picked before any node starts (and kept across restarts).
	clusterPorts := make([]int, n)
	clientPorts := make([]int, n)
	for i := range n {
		clusterPorts[i] = freePort(t)
		clientPorts[i] = freePort(t)
	}
	routes := make([]string, n)
	for i, p := range clusterPorts {
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	c := &Cluster{t: t}
	for i := range n {
		c.Servers = append(c.Servers, RunWith(t, server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Port:       clientPorts[i],
			Cluster: server.ClusterOpts{
				Name: "talkrelay-test",
				Host: "127.0.0.1",
				Port: clusterPorts[i],
			},
			Routes:   server.RoutesFromStr(strings.Join(routes, ",")),
			StoreDir: t.TempDir(),
		}))
	}
	return c
}

// freePort picks a free loopback port below Linux's ephemeral range
// (32768 and up), from which every other server in the test process takes
// its random port: a port picked here and bound a moment later cannot be
// taken by one of them in between.
func freePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p
	}
	t.Fatal("natstest: no free port in 20000..31999")
	return 0
}

// ClientURLs returns the client URLs of all nodes, comma separated, as
// nats.Connect and the worker's nats.url take them.
func (c *Cluster) ClientURLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port)
	}
	return strings.Join(urls, ",")
}

// Connect returns a connection to any node, reconnecting to the others
// forever; it is closed when the test ends.
func (c *Cluster) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(c.ClientURLs(), opts...)
	if err != nil {
		t.Fatalf("natstest: connect to cluster: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on a new connection to the cluster.
func (c *Cluster) JetStream(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := c.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}

// WaitJetStream waits until js answers an account info request, that is
// until the cluster has a JetStream meta leader, retrying with short
// per-attempt timeouts.
func (c *Cluster) WaitJetStream(t testing.TB, js jetstream.JetStream, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: cluster JetStream not available within %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Server returns the node named name (as in StreamInfo's Cluster.Leader),
// or nil.
func (c *Cluster) Server(name string) *Server {
	for _, s := range c.Servers {
		if s.opts.ServerName == name {
			return s
		}
	}
	return nil
}

// RunLeaf starts a hub server whose JetStream is in domain hubDomain and a
// leaf server with a JetStream of its own in domain leafDomain, connected
// to the hub as a leaf node (one account on both), the setup in which a
// client of the leaf reaches the hub's streams only through
// $JS.<hubDomain>.API. It returns once the leaf node is connected.
func RunLeaf(t testing.TB, hubDomain, leafDomain string) (hub, leaf *Server) {
	t.Helper()
	port := freePort(t)
	hub = RunWith(t, server.Options{ServerName: "hub", JetStreamDomain: hubDomain,
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: port}})
	remote, err := url.Parse(fmt.Sprintf("nats://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	leaf = RunWith(t, server.Options{ServerName: "leaf", JetStreamDomain: leafDomain,
		LeafNode: server.LeafNodeOpts{Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{remote}}}}})
	deadline := time.Now().Add(30 * time.Second)
	for hub.NumLeafNodes() == 0 || leaf.NumLeafNodes() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("natstest: leaf node not connected within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return hub, leaf
}
