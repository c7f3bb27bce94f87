// Package natstest runs real nats-servers with JetStream inside tests.
package natstest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Server is a nats-server with JetStream in the test process.
type Server struct {
	*server.Server
	t    testing.TB
	opts server.Options
}

// Run starts a server on a free loopback port storing under a temporary
// directory; it is shut down when the test ends.
func Run(t testing.TB) *Server {
	t.Helper()
	return RunWith(t, server.Options{StoreDir: t.TempDir()})
}

// RunWith starts a server from opts with JetStream on and, unless set, a free
// loopback port and 8 MiB max payload.
func RunWith(t testing.TB, opts server.Options) *Server {
	t.Helper()
	opts.JetStream = true
	opts.NoSigs = true
	opts.NoLog = true
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = -1
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 8 << 20
	}
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	s := &Server{t: t, opts: opts}
	s.start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func (s *Server) start() {
	s.t.Helper()
	o := s.opts
	ns, err := server.NewServer(&o)
	if err != nil {
		s.t.Fatalf("natstest: new server: %v", err)
	}
	go ns.Start()
	// Generous: a loaded 2-core CI machine running -race tests starts
	// servers slowly.
	if !ns.ReadyForConnections(30 * time.Second) {
		s.t.Fatal("natstest: server not ready within 30s")
	}
	s.Server = ns
	// Restarts keep the port the first start picked.
	s.opts.Port = ns.Addr().(*net.TCPAddr).Port
}

// Restart shuts the server down, if it is running, and starts it again on
// the same port and store, as an operator restarting NATS would.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	s.WaitForShutdown()
	s.start()
}

// Stop shuts the server down and waits until it is down; Restart starts it
// again on the same port and store.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// Connect returns a connection closed when the test ends.
func (s *Server) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on a new connection.
func (s *Server) JetStream(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := s.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}

// LeakOptions are the goleak options of a test binary that embeds
// nats-servers: the server and the HTTP transport keep a few goroutines of
// their own until the process exits.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).StartProfiler"),
	}
}

// EnsureStreams creates talkrelay's streams, in their default
// configuration, through js.
func EnsureStreams(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
}
