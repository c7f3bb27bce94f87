package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// A poison job's advisory fires while no worker runs (the job just crashed
// the only one): the next worker to start still dead-letters the job.
func TestPoisonAdvisoryWhileNoWorkerRunsIsHandledByTheNextWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(sandboxAccount("acct", nil))
	cfg.Worker.MaxDeliver = 2
	stop := e.start(cfg) // creates the lane consumers
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// A stand-in for a worker that crashes on the job: it takes it twice
	// and never finishes it.
	e.publishJob(testJob("orphan", "acct", 1))
	advisories := make(chan struct{}, 1)
	sub, err := e.nc.Subscribe(streams.MaxDeliveriesSubject, func(*nats.Msg) { advisories <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	cons, err := e.js.Consumer(t.Context(), streams.JobsStream, cfg.Worker.Consumer+"-acct")
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
pull:
	for {
		select {
		case <-advisories:
			break pull
		default: // the pull after the last delivery makes NATS give up on it
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			delivered++
			_ = m.Nak()
		}
		if delivered > cfg.Worker.MaxDeliver {
			t.Fatalf("delivered %d times with max_deliver %d", delivered, cfg.Worker.MaxDeliver)
		}
	}

	e.start(cfg)
	ev := e.results(1, 30*time.Second)[0]
	if ev.JobID != "orphan" || ev.Status != result.Failed || ev.Reason != result.ReasonPoison {
		t.Fatalf("result %s/%s/%s; want orphan/failed/poison", ev.JobID, ev.Status, ev.Reason)
	}
	waitFor(t, 10*time.Second, "jobs stream empty (poison deleted)", func() bool { return e.streamCount(streams.JobsStream) == 0 })
	waitFor(t, 10*time.Second, "advisory acknowledged", func() bool { return e.streamCount(streams.PoisonStream) == 0 })
}

// gatedClock blocks, once armed, every caller of Now until released.
type gatedClock struct {
	armed   atomic.Bool
	entered chan struct{} // closed by the first caller blocked
	gate    chan struct{}
	once    sync.Once
	release func()
}

func newGatedClock() *gatedClock {
	c := &gatedClock{entered: make(chan struct{}), gate: make(chan struct{})}
	var once sync.Once
	c.release = func() { once.Do(func() { close(c.gate) }) }
	return c
}

func (c *gatedClock) Now() time.Time {
	if c.armed.Load() {
		c.once.Do(func() { close(c.entered) })
		<-c.gate
	}
	return time.Now()
}

// watchLog is a log writer that closes seen once a line contains want.
type watchLog struct {
	t    *testing.T
	want []byte
	seen chan struct{}
	once sync.Once
}

func (w *watchLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// A worker shutting down while it dead-letters a poison job finishes that
// first: Run returns only after the poison job's result is stored (before,
// the handling ran on a goroutine nobody waited for, and published on a
// closed publisher).
func TestShutdownWaitsForThePoisonJobInHandling(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(sandboxAccount("acct", nil))
	clock := newGatedClock()
	t.Cleanup(clock.release)
	logs := &watchLog{t: t, want: []byte(`"poison_job_in_handling":true`), seen: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	ran := make(chan error, 1)
	go func() {
		ran <- worker.Run(ctx, cfg, zerolog.New(logs).Level(zerolog.InfoLevel), worker.Options{Ready: ready, Clock: clock})
	}()
	select {
	case <-ready:
	case err := <-ran:
		t.Fatalf("worker did not start: %v", err)
	}

	// A job no lane consumes (a schedule subject without schedule headers)
	// and an advisory naming it as a lane's poison job.
	data, err := testJob("stuck", "acct", 1).Encode()
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.js.Publish(t.Context(), streams.ScheduleSubject("acct", "stuck"), data)
	if err != nil {
		t.Fatal(err)
	}
	adv, _ := json.Marshal(map[string]any{"stream": streams.JobsStream, "consumer": cfg.Worker.Consumer + "-acct",
		"stream_seq": ack.Sequence, "deliveries": cfg.Worker.MaxDeliver})
	clock.armed.Store(true)
	if err := e.nc.Publish(streams.MaxDeliveriesSubject[:len(streams.MaxDeliveriesSubject)-1]+cfg.Worker.Consumer+"-acct", adv); err != nil {
		t.Fatal(err)
	}
	select {
	case <-clock.entered: // the poison handling is under way, held by the clock
	case err := <-ran:
		t.Fatalf("worker stopped: %v", err)
	}

	cancel()
	select {
	case <-logs.seen:
		clock.release()
	case <-ran:
		t.Fatal("Run returned while a poison job was still in handling")
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	ev := e.results(1, 10*time.Second)[0]
	if ev.JobID != "stuck" || ev.Status != result.Failed || ev.Reason != result.ReasonPoison {
		t.Fatalf("result %s/%s/%s; want stuck/failed/poison", ev.JobID, ev.Status, ev.Reason)
	}
}
