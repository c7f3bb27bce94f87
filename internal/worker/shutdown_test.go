package worker_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// hanging is an adapter whose sends and lookups hang, ignoring their
// context, until released: the worst a provider (or an adapter's bug) can
// do.
type hanging struct {
	calls   chan string // "send" or "resolve", as each call starts
	release chan struct{}
}

func (h *hanging) MaxBatch() int                  { return 1 }
func (h *hanging) Check(*providers.Message) error { return nil }

func (h *hanging) Send(ctx context.Context, _ *providers.Batch) ([]providers.Outcome, error) {
	h.calls <- "send"
	<-h.release
	return nil, ctx.Err()
}

func (h *hanging) Resolve(ctx context.Context, _ []providers.Query) ([]providers.Outcome, error) {
	h.calls <- "resolve"
	<-h.release
	return nil, ctx.Err()
}

// endingWriter writes to w until the test ends, then drops what it gets:
// work left unwinding after Run returned may log after the test.
type endingWriter struct {
	mu    sync.Mutex
	w     io.Writer
	ended bool
}

func (e *endingWriter) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ended {
		return len(p), nil
	}
	return e.w.Write(p)
}

// SIGTERM ends the worker within about 2 × worker.shutdown_grace whatever
// the provider and NATS do. Here a lookup and a send hang holding the
// account's two concurrency slots, another batch waits for a slot, and
// the NATS server is gone.
// (Before, Run waited forever: for the starter, for the batch waiting for
// the slot, and for stores that could not be made.) The bound is asserted
// loosely: Run must return at all.
func TestShutdownIsBoundedWhenProviderHangsAndNATSIsGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	logs := &endingWriter{w: zerolog.NewTestWriter(t)}
	t.Cleanup(func() { logs.mu.Lock(); logs.ended = true; logs.mu.Unlock() })
	h := &hanging{calls: make(chan string, 16), release: make(chan struct{})}
	t.Cleanup(func() { close(h.release) }) // after Run returned: the hung calls end and unwind

	now := time.Now()
	env := &retry.Envelope{ID: "looked-up.l0", DueAt: now, Job: testJob("looked-up", "acct", 1), Round: 1,
		Pending: []retry.Pending{{Index: 0, Attempts: 1, Lookup: true, FirstSentAt: now, LastSentAt: now,
			Last: &retry.Outcome{Class: providers.Unknown.String()}}}}
	data, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(streams.RetrySubjectFor("acct", false))
	m.Data = data
	m.Header.Set(retry.HeaderEnvelope, "1")
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}

	grace := time.Second
	cfg := e.config(config.Account{Name: "acct", Provider: "hanging", MaxConcurrency: 2, RequestTimeout: time.Minute, Retry: fastRetry(3)})
	cfg.Worker.ShutdownGrace = grace
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- worker.Run(ctx, cfg, zerolog.New(logs).Level(zerolog.WarnLevel), worker.Options{
			Ready:     ready,
			Providers: map[string]providers.Factory{"hanging": func(providers.Spec) (providers.Provider, error) { return h, nil }},
		})
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("worker did not start: %v", err)
	}
	// The lookup takes a slot first, then the first job the other.
	wait := func(call string) {
		for {
			select {
			case c := <-h.calls:
				if c == call {
					return
				}
			case err := <-errc:
				t.Fatalf("worker stopped: %v", err)
			}
		}
	}
	wait("resolve")
	e.publishJob(testJob("hangs", "acct", 1))
	wait("send")
	e.publishJob(testJob("waits-for-a-slot", "acct", 1))

	e.srv.Stop()
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		t.Logf("Run returned %s after SIGTERM (shutdown_grace %s)", time.Since(start).Round(time.Millisecond), grace)
	case <-time.After(time.Minute):
		t.Fatalf("Run did not return within a minute of SIGTERM (shutdown_grace %s)", grace)
	}
}
