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

// jobsConsumers lists every consumer of the jobs stream. The worker has
// had one durable consumer for all accounts (streams.WorkerConsumer) and
// is getting one per account and lane ("<consumer>-<account>",
// "<consumer>-<account>-urgent"); the bench reads whatever is there
// rather than one consumer by name, so that it works with both.
func jobsConsumers(ctx context.Context, js jetstream.JetStream) ([]*jetstream.ConsumerInfo, error) {
	s, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		return nil, err
	}
	var out []*jetstream.ConsumerInfo
	l := s.ListConsumers(ctx)
	for ci := range l.Info() {
		out = append(out, ci)
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("list consumers of %s: %w", streams.JobsStream, err)
	}
	return out, nil
}

// consumersPending is what the consumers of the jobs stream still hold,
// summed over all of them.
type consumersPending struct {
	Consumers   int
	Undelivered uint64 // NumPending: matching jobs not delivered yet
	InFlight    int    // NumAckPending: delivered, not acknowledged
}

func pendingOf(cis []*jetstream.ConsumerInfo) consumersPending {
	p := consumersPending{Consumers: len(cis)}
	for _, ci := range cis {
		p.Undelivered += ci.NumPending
		p.InFlight += ci.NumAckPending
	}
	return p
}

// workerPending sums the pending counts over every consumer of the jobs
// stream (the single shared consumer, or one per account and lane).
func workerPending(ctx context.Context, js jetstream.JetStream) (consumersPending, error) {
	cis, err := jobsConsumers(ctx, js)
	if err != nil {
		return consumersPending{}, err
	}
	return pendingOf(cis), nil
}

// workerConsumersFor picks, from the consumers of the jobs stream, the
// worker's consumers that read accounts' jobs: the shared consumer
// (streams.WorkerConsumer, which reads every account) if it exists, else
// "<consumer>-<account>" for each account. ok is false while one is
// missing. Urgent lanes are not required: the profiles publish no urgent
// jobs.
func workerConsumersFor(cis []*jetstream.ConsumerInfo, accounts []string) (picked []*jetstream.ConsumerInfo, ok bool) {
	byName := make(map[string]*jetstream.ConsumerInfo, len(cis))
	for _, ci := range cis {
		byName[ci.Name] = ci
	}
	if ci := byName[streams.WorkerConsumer]; ci != nil {
		return []*jetstream.ConsumerInfo{ci}, true
	}
	for _, a := range accounts {
		ci := byName[streams.WorkerConsumer+"-"+streams.Token(a)]
		if ci == nil {
			return nil, false
		}
		picked = append(picked, ci)
	}
	return picked, len(picked) > 0
}

// waitConsumer waits for the worker's durable consumers of accounts (see
// workerConsumersFor) and returns when the server created the last of
// them. With replicas > 1 it then waits, up to 15 s, until each of them
// has a pull request waiting from every replica (NumWaiting), so that
// every replica is consuming before the jobs are published.
func waitConsumer(ctx context.Context, js jetstream.JetStream, accounts []string, replicas int, procs workers) (time.Time, error) {
	var created time.Time
	var settled time.Time
	for {
		cis, err := jobsConsumers(ctx, js)
		if err != nil {
			return time.Time{}, err
		}
		if picked, ok := workerConsumersFor(cis, accounts); ok {
			created = time.Time{}
			ready := true
			for _, ci := range picked {
				if ci.Created.After(created) {
					created = ci.Created
				}
				if ci.NumWaiting < replicas {
					ready = false
				}
			}
			if replicas <= 1 || ready {
				return created, nil
			}
			if settled.IsZero() {
				settled = time.Now()
			} else if time.Since(settled) > 15*time.Second {
				return created, fmt.Errorf("worker consumers exist but not all %d replicas pull from them after 15s", replicas)
			}
		}
		if err := procs.pause(ctx, 20*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// waitResults polls the results stream until it holds want messages and
// returns the store time of the last one. Polling stream info costs next
// to nothing, so the bench does not compete with the worker for CPU by
// reading results while it runs; they are read afterwards (latencies).
// It fails when no result arrives for stall.
func waitResults(ctx context.Context, js jetstream.JetStream, want uint64, stall time.Duration, procs workers) (time.Time, error) {
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
		if err := procs.pause(ctx, 50*time.Millisecond); err != nil {
			return time.Time{}, err
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

// workerWrites counts the messages the workers stored in JetStream: every
// result, and every send record (the send-records bucket is not swept
// within a bench run: its records are younger than the duplicate window).
// The jobs stream's messages are the producer's, less the schedules of
// retries (none against the bench's fake).
func workerWrites(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	var n uint64
	for _, name := range []string{streams.ResultsStream, "KV_" + streams.SendsBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return 0, err
		}
		n += s.CachedInfo().State.LastSeq
	}
	return n, nil
}
