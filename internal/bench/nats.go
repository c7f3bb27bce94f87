package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// startServer runs a nats-server with JetStream file storage under dir,
// the default fsync (every 2 minutes), on a free loopback port, with an
// 8 MiB max payload for campaign jobs.
func startServer(dir string) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir,
		MaxPayload: 8 << 20, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("nats-server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats-server: not ready within 10s")
	}
	return ns, nil
}

// ensureStreams creates talkrelay's streams as the worker would, so that
// jobs can be queued before a worker starts (backlog).
func ensureStreams(ctx context.Context, js jetstream.JetStream) error {
	return streams.Ensure(ctx, js, streams.DefaultConfig())
}

// waitConsumer waits for the worker's durable consumer and returns when
// the server created it.
func waitConsumer(ctx context.Context, js jetstream.JetStream, p *workerProc) (time.Time, error) {
	for {
		c, err := js.Consumer(ctx, streams.JobsStream, streams.WorkerConsumer)
		if err == nil {
			return c.CachedInfo().Created, nil
		}
		if err := p.alive(); err != nil {
			return time.Time{}, err
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitResults polls the results stream until it holds want messages and
// returns the store time of the last one. Polling stream info costs next
// to nothing, so the bench does not compete with the worker for CPU by
// reading results while it runs; they are read afterwards (latencies).
// It fails when no result arrives for stall.
func waitResults(ctx context.Context, js jetstream.JetStream, want uint64, stall time.Duration, p *workerProc) (time.Time, error) {
	var last uint64
	progress := time.Now()
	for {
		s, err := js.Stream(ctx, streams.ResultsStream)
		if err != nil {
			return time.Time{}, err
		}
		st := s.CachedInfo().State
		if st.Msgs >= want {
			return st.LastTime, nil
		}
		if st.Msgs != last {
			last, progress = st.Msgs, time.Now()
		} else if time.Since(progress) > stall {
			return time.Time{}, fmt.Errorf("results: %d of %d after no progress for %s", st.Msgs, want, stall)
		}
		if err := p.alive(); err != nil {
			return time.Time{}, err
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitAcked waits until the jobs stream (a work queue) is empty: every job
// acknowledged.
func waitAcked(ctx context.Context, js jetstream.JetStream, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		s, err := js.Stream(ctx, streams.JobsStream)
		if err != nil {
			return err
		}
		n := s.CachedInfo().State.Msgs
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d jobs still unacknowledged after %s", n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// resultsRead is what the results stream says after a run.
type resultsRead struct {
	N          int
	NotOK      int // results whose status is not accepted
	P50, P99   time.Duration
	Max        time.Duration
	FirstStore time.Time
	Sample     []byte // one result event, the ceiling's result body
}

// readResults reads every result with an ordered consumer and computes
// publish→result latencies: the result message's store time (its stream
// timestamp) minus the publish time its job's metadata carries.
func readResults(ctx context.Context, js jetstream.JetStream, want int) (resultsRead, error) {
	var r resultsRead
	cons, err := js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return r, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return r, err
	}
	defer it.Stop()
	lat := make([]time.Duration, 0, want)
	accepted := []byte(`"status":"accepted"`)
	for r.N < want {
		m, err := it.Next()
		if err != nil {
			return r, fmt.Errorf("read results: %w", err)
		}
		r.N++
		data := m.Data()
		if r.Sample == nil {
			r.Sample = bytes.Clone(data)
		}
		if !bytes.Contains(data, accepted) {
			r.NotOK++
		}
		md, err := m.Metadata()
		if err != nil {
			return r, err
		}
		if r.FirstStore.IsZero() {
			r.FirstStore = md.Timestamp
		}
		if pub, ok := pubTime(data); ok {
			lat = append(lat, md.Timestamp.Sub(time.Unix(0, pub)))
		}
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.Max = lat[n/2], lat[min(n-1, n*99/100)], lat[n-1]
	}
	return r, nil
}

func connect(ns *server.Server) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("talkrelay-bench"))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
