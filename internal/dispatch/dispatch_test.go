package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/result"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func items(jobID, account string, n int, kind job.Kind) []*Item {
	j := &job.Job{ID: jobID, Account: account, Kind: kind, Template: "T"}
	out := make([]*Item, n)
	for range n {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: "01012345678", Content: "x"})
	}
	src := &Source{Key: providers.KeyOf(j, &j.Recipients[0], "")}
	for i := range n {
		out[i] = &Item{Message: providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1}, Source: src, Pos: i}
	}
	return out
}

type emitted struct {
	key providers.Key
	n   int
}

func TestBatcherSizeTrigger(t *testing.T) {
	t.Parallel()
	ch := make(chan emitted, 100)
	b := NewBatcher(time.Hour, func(providers.Key) int { return 100 }, func(k providers.Key, its []*Item) { ch <- emitted{k, len(its)} })
	for i := range 250 {
		b.Add(items(fmt.Sprint("j", i), "a", 1, job.AlimTalk))
	}
	for range 2 {
		if e := <-ch; e.n != 100 {
			t.Fatalf("batch of %d, want 100", e.n)
		}
	}
	if b.Pending() != 50 {
		t.Fatalf("pending %d, want 50", b.Pending())
	}
	b.Flush()
	if e := <-ch; e.n != 50 {
		t.Fatalf("flushed batch of %d, want 50", e.n)
	}
	if b.Pending() != 0 {
		t.Fatal("items left after Flush")
	}
}

// TestBatcherSourcesInOneAdd: the key of consecutive items of one source
// is looked up once, yet every item lands in the batch of its key, in
// order: sources of the same key share batches, a source's run goes on
// past a full batch into a new one, another key's items go apart.
func TestBatcherSourcesInOneAdd(t *testing.T) {
	t.Parallel()
	var got [][]*Item
	b := NewBatcher(time.Hour, func(providers.Key) int { return 3 }, func(_ providers.Key, its []*Item) { got = append(got, its) })
	j1, j2, other := items("j1", "a", 5, job.AlimTalk), items("j2", "a", 2, job.AlimTalk), items("j3", "a", 1, job.FriendTalk)
	b.Add([]*Item{j1[0], j1[1], other[0], j1[2], j1[3], j2[0], j1[4], j2[1]})
	names := func(batches [][]*Item) string {
		var s []string
		for _, b := range batches {
			var ns []string
			for _, it := range b {
				ns = append(ns, fmt.Sprintf("%s/%d", it.Job.ID, it.Pos))
			}
			s = append(s, strings.Join(ns, " "))
		}
		return strings.Join(s, " | ")
	}
	if got, want := names(got), "j1/0 j1/1 j1/2 | j1/3 j2/0 j1/4"; got != want {
		t.Fatalf("full batches %s, want %s", got, want)
	}
	got = nil
	b.Flush()
	if len(got) != 2 || len(got[0]) != 1 || len(got[1]) != 1 {
		t.Fatalf("flushed %d batches, want j2's last item and the FriendTalk item apart", len(got))
	}
}

func TestBatcherLingerTrigger(t *testing.T) {
	t.Parallel()
	ch := make(chan emitted, 10)
	b := NewBatcher(10*time.Millisecond, func(providers.Key) int { return 100 }, func(k providers.Key, its []*Item) { ch <- emitted{k, len(its)} })
	start := time.Now()
	b.Add(items("j1", "a", 3, job.AlimTalk))
	b.Add(items("j2", "a", 4, job.AlimTalk))
	e := <-ch
	if e.n != 7 {
		t.Fatalf("lingered batch of %d, want 7", e.n)
	}
	if took := time.Since(start); took < 10*time.Millisecond {
		t.Fatalf("batch sent after %s, before the linger time", took)
	}
}

func TestBatcherSeparatesKeys(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[providers.Key]int{}
	b := NewBatcher(time.Hour, func(providers.Key) int { return 1000 }, func(k providers.Key, its []*Item) {
		mu.Lock()
		got[k] += len(its)
		mu.Unlock()
	})
	b.Add(items("j1", "a", 2, job.AlimTalk))
	b.Add(items("j2", "b", 3, job.AlimTalk))
	b.Add(items("j3", "a", 4, job.FriendTalk))
	vars := items("j4", "a", 1, job.AlimTalk)
	vars[0].Recipient.Content, vars[0].Recipient.Variables = "", map[string]string{"x": "y"}
	vars[0].Source = &Source{Key: providers.KeyOf(vars[0].Job, vars[0].Recipient, "")}
	b.Add(vars)
	b.Flush()
	if len(got) != 4 {
		t.Fatalf("%d batches for 4 distinct keys: %v", len(got), got)
	}
}

func TestBatcherZeroLingerSendsAtOnce(t *testing.T) {
	t.Parallel()
	n := 0
	b := NewBatcher(0, func(providers.Key) int { return 100 }, func(_ providers.Key, its []*Item) { n += len(its) })
	b.Add(items("j", "a", 5, job.AlimTalk))
	if n != 5 || b.Pending() != 0 {
		t.Fatalf("sent %d, pending %d", n, b.Pending())
	}
}

// fakeProvider answers from a function and records concurrency.
type fakeProvider struct {
	limit     int
	answer    func(b *providers.Batch) ([]providers.Outcome, error)
	inFlight  atomic.Int64
	maxFlight atomic.Int64
	calls     atomic.Int64
	release   chan struct{} // if set, each Send waits for it
}

func (f *fakeProvider) MaxBatch() int                  { return f.limit }
func (f *fakeProvider) Check(*providers.Message) error { return nil }
func (f *fakeProvider) Send(ctx context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxFlight.Load()
		if n <= m || f.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.answer(b)
}

func acceptAll(b *providers.Batch) ([]providers.Outcome, error) {
	out := make([]providers.Outcome, len(b.Messages))
	for i := range out {
		out[i] = providers.Outcome{Class: providers.Accepted, Code: "OK"}
	}
	return out, nil
}

func newDispatcher(t *testing.T, p *fakeProvider, conc int, onOutcome OutcomeFunc) *Dispatcher {
	a := &Account{Name: "a", Provider: "fake", Client: p, Limiter: ratelimit.NewLocal(ratelimit.Config{}, p.limit),
		MaxConcurrency: conc, RequestTimeout: 5 * time.Second}
	return New(Config{Linger: time.Hour, Tracer: noop.NewTracerProvider().Tracer(""), Log: zerolog.Nop()}, []*Account{a}, onOutcome)
}

func TestDispatcherCapsConcurrency(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{limit: 1, answer: acceptAll, release: make(chan struct{})}
	var results atomic.Int64
	d := newDispatcher(t, p, 3, func(*Item, *providers.Outcome, time.Time) { results.Add(1) })
	go d.Submit(items("j", "a", 10, job.AlimTalk))
	deadline := time.Now().Add(5 * time.Second)
	for p.inFlight.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for range 10 {
		p.release <- struct{}{}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.maxFlight.Load(); got != 3 {
		t.Errorf("max concurrent requests %d, want 3", got)
	}
	if results.Load() != 10 {
		t.Errorf("%d results, want 10", results.Load())
	}
}

func TestDispatcherBatchErrorAppliesToEveryMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		class      providers.Class
		reason     result.Reason
		retryAfter time.Duration
	}{
		{"429", &providers.Error{Provider: "fake", Class: providers.Retryable, Reason: result.ReasonRateLimited, HTTPStatus: 429, RetryAfter: time.Second},
			providers.Retryable, result.ReasonRateLimited, time.Second},
		{"auth", &providers.Error{Provider: "fake", Class: providers.Permanent, Reason: result.ReasonAuth, HTTPStatus: 401},
			providers.Permanent, result.ReasonAuth, 0},
		{"plain error", errors.New("connection reset"), providers.Retryable, result.ReasonProviderUnavailable, 0},
		{"deadline", context.DeadlineExceeded, providers.Unknown, result.ReasonTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &fakeProvider{limit: 10, answer: func(*providers.Batch) ([]providers.Outcome, error) { return nil, tt.err }}
			var mu sync.Mutex
			var outs []providers.Outcome
			d := newDispatcher(t, p, 1, func(_ *Item, o *providers.Outcome, _ time.Time) { mu.Lock(); outs = append(outs, *o); mu.Unlock() })
			d.Submit(items("j", "a", 4, job.AlimTalk))
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(outs) != 4 {
				t.Fatalf("%d outcomes, want 4", len(outs))
			}
			for _, o := range outs {
				if o.Class != tt.class || o.EffectiveReason() != tt.reason || o.RetryAfter != tt.retryAfter {
					t.Errorf("outcome %s reason=%s retry-after=%s", o.Class, o.EffectiveReason(), o.RetryAfter)
				}
			}
		})
	}
}

func TestDispatcherWrongOutcomeCountIsUnknown(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{limit: 10, answer: func(b *providers.Batch) ([]providers.Outcome, error) {
		out, _ := acceptAll(b)
		return out[1:], nil
	}}
	var outs []providers.Outcome
	var mu sync.Mutex
	d := newDispatcher(t, p, 1, func(_ *Item, o *providers.Outcome, _ time.Time) { mu.Lock(); outs = append(outs, *o); mu.Unlock() })
	d.Submit(items("j", "a", 3, job.AlimTalk))
	_ = d.Close(context.Background())
	if len(outs) != 3 {
		t.Fatalf("%d outcomes, want 3", len(outs))
	}
	for _, o := range outs {
		if o.Class != providers.Unknown || o.EffectiveReason() != result.ReasonOutcomeUnknown {
			t.Errorf("mismatched answer gave %s/%s", o.Class, o.EffectiveReason())
		}
	}
}

func TestDispatcherCloseCancelsAfterGrace(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{limit: 10, answer: acceptAll, release: make(chan struct{})} // never released
	var n atomic.Int64
	d := newDispatcher(t, p, 1, func(*Item, *providers.Outcome, time.Time) { n.Add(1) })
	d.Submit(items("j", "a", 2, job.AlimTalk))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); err == nil {
		t.Fatal("Close returned nil with a call still running past the grace period")
	}
	if n.Load() != 2 {
		t.Fatalf("%d results after cancel, want 2 (every message reported)", n.Load())
	}
}

// Once the grace period is over, a batch waiting for a concurrency slot is
// reported unsent at once, even while the call holding the slot ignores its
// cancellation (before, it waited for the slot, and Close with it).
func TestDispatcherCloseReportsQueuedBatchesWithoutWaitingForASlot(t *testing.T) {
	t.Parallel()
	hung := make(chan struct{})
	p := &fakeProvider{limit: 1, answer: func(b *providers.Batch) ([]providers.Outcome, error) {
		<-hung // ignores the call's context
		return acceptAll(b)
	}}
	outcomes := make(chan providers.Outcome, 2)
	d := newDispatcher(t, p, 1, func(_ *Item, o *providers.Outcome, _ time.Time) { outcomes <- *o })
	d.Submit(items("j", "a", 2, job.AlimTalk)) // two batches of one: the first takes the only slot
	for p.inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the grace period is over
	closed := make(chan error, 1)
	go func() { closed <- d.Close(ctx) }()
	select {
	case o := <-outcomes:
		if o.Class != providers.Retryable {
			t.Errorf("queued batch reported %s (%s), want retryable, not sent", o.Class, o.Message)
		}
	case <-time.After(time.Minute):
		t.Error("the batch waiting for the slot was not reported within a minute of the grace period's end")
	}
	close(hung)
	if err := <-closed; err == nil {
		t.Error("Close returned nil with a call still running past the grace period")
	}
	if got := p.calls.Load(); got != 1 {
		t.Errorf("%d provider calls, want 1", got)
	}
}

func TestDispatcherBeforeSendFailureSkipsTheCall(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{limit: 10, answer: acceptAll}
	var outs []providers.Outcome
	var mu sync.Mutex
	a := &Account{Name: "a", Provider: "fake", Client: p, Limiter: ratelimit.NewLocal(ratelimit.Config{}, 10), MaxConcurrency: 1, RequestTimeout: time.Second}
	d := New(Config{Linger: time.Hour, Tracer: noop.NewTracerProvider().Tracer(""), Log: zerolog.Nop(),
		BeforeSend: func(context.Context, *providers.Batch, []*Item) error { return errors.New("kv down") }},
		[]*Account{a}, func(_ *Item, o *providers.Outcome, _ time.Time) { mu.Lock(); outs = append(outs, *o); mu.Unlock() })
	d.Submit(items("j", "a", 2, job.AlimTalk))
	_ = d.Close(context.Background())
	if p.calls.Load() != 0 {
		t.Fatal("the provider was called although the send record was not stored")
	}
	if len(outs) != 2 || outs[0].Class != providers.Retryable {
		t.Fatalf("outcomes %+v, want 2 retryable", outs)
	}
}

func TestBatchIDStable(t *testing.T) {
	t.Parallel()
	a := items("job-1", "a", 3, job.AlimTalk)
	msgs := func(its []*Item) []providers.Message {
		out := make([]providers.Message, len(its))
		for i, it := range its {
			out[i] = it.Message
		}
		return out
	}
	id1, id2 := BatchID(msgs(a)), BatchID(msgs(items("job-1", "a", 3, job.AlimTalk)))
	if id1 != id2 || len(id1) != 32 {
		t.Fatalf("same messages, ids %q and %q", id1, id2)
	}
	a[2].Attempt = 2
	if BatchID(msgs(a)) == id1 {
		t.Fatal("a new attempt has the same batch id")
	}
	if BatchID(msgs(items("job-12", "a", 1, job.AlimTalk))) == BatchID(msgs(items("job-1", "a", 1, job.AlimTalk))) {
		t.Fatal("different jobs share a batch id")
	}
}

func TestDispatcherUrgentOvertakesQueuedNormal(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var order []string
	p := &fakeProvider{limit: 1, release: make(chan struct{}), answer: func(b *providers.Batch) ([]providers.Outcome, error) {
		mu.Lock()
		order = append(order, b.Messages[0].Job.ID)
		mu.Unlock()
		return acceptAll(b)
	}}
	d := newDispatcher(t, p, 1, func(*Item, *providers.Outcome, time.Time) {})
	for i := range 6 {
		d.Submit(items(fmt.Sprint("normal-", i), "a", 1, job.AlimTalk))
	}
	for p.inFlight.Load() < 1 { // the first normal batch is in its call
		time.Sleep(time.Millisecond)
	}
	urgent := items("urgent", "a", 1, job.AlimTalk)
	urgent[0].Urgent = true
	d.Submit(urgent)
	time.Sleep(20 * time.Millisecond) // let the admission loop see it
	for range 7 {
		p.release <- struct{}{}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One normal batch was in its call and at most one more was already
	// taken for admission when the urgent one arrived.
	pos := -1
	for i, id := range order {
		if id == "urgent" {
			pos = i
		}
	}
	if pos < 0 || pos > 2 {
		t.Fatalf("call order %v: the urgent batch went after the queued normal ones", order)
	}
}

func TestDispatcherAccountsDoNotBlockEachOther(t *testing.T) {
	t.Parallel()
	slow := &fakeProvider{limit: 1, answer: acceptAll, release: make(chan struct{})} // never released
	fast := &fakeProvider{limit: 1, answer: acceptAll}
	a := &Account{Name: "a", Provider: "fake", Client: slow, Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), MaxConcurrency: 1, RequestTimeout: time.Minute}
	b := &Account{Name: "b", Provider: "fake", Client: fast, Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), MaxConcurrency: 1, RequestTimeout: time.Minute}
	got := make(chan string, 200)
	d := New(Config{Linger: time.Hour, Tracer: noop.NewTracerProvider().Tracer(""), Log: zerolog.Nop()}, []*Account{a, b},
		func(it *Item, _ *providers.Outcome, _ time.Time) { got <- it.Job.Account })
	for i := range 100 {
		d.Submit(items(fmt.Sprint("a-", i), "a", 1, job.AlimTalk)) // must not block although a is stuck
	}
	d.Submit(items("b-1", "b", 1, job.AlimTalk))
	select {
	case acct := <-got:
		if acct != "b" {
			t.Fatalf("first outcome from account %s", acct)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("account b's batch waited behind account a's stuck provider")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = d.Close(ctx)
	if n := len(got); n != 100 {
		t.Fatalf("%d of account a's items reported after Close, want 100", n)
	}
}

// TestDispatcherFence: items the fence drops are not sent and get no
// outcome, whether it drops them before the send record (BeforeSend) or
// after it, right before the request.
func TestDispatcherFence(t *testing.T) {
	t.Parallel()
	var sent []int // indexes the provider received
	var mu sync.Mutex
	p := &fakeProvider{limit: 10, answer: func(b *providers.Batch) ([]providers.Outcome, error) {
		mu.Lock()
		for _, m := range b.Messages {
			sent = append(sent, m.Index)
		}
		mu.Unlock()
		return acceptAll(b)
	}}
	var recorded []int // indexes BeforeSend saw
	var afterRecord atomic.Bool
	var outcomes []int
	a := &Account{Name: "a", Provider: "fake", Client: p, Limiter: ratelimit.NewLocal(ratelimit.Config{}, p.limit),
		MaxConcurrency: 1, RequestTimeout: 5 * time.Second}
	d := New(Config{Linger: time.Hour, Tracer: noop.NewTracerProvider().Tracer(""), Log: zerolog.Nop(),
		BeforeSend: func(_ context.Context, b *providers.Batch, its []*Item) error {
			for _, m := range b.Messages {
				recorded = append(recorded, m.Index)
			}
			afterRecord.Store(true)
			return nil
		},
		// Index 0 is lost before the record, index 1 after it; index 2 stays.
		Fence: func(its []*Item) []*Item {
			var kept []*Item
			for _, it := range its {
				if it.Index == 0 || it.Index == 1 && afterRecord.Load() {
					continue
				}
				kept = append(kept, it)
			}
			return kept
		}}, []*Account{a}, func(it *Item, _ *providers.Outcome, _ time.Time) {
		mu.Lock()
		outcomes = append(outcomes, it.Index)
		mu.Unlock()
	})
	d.Submit(items("j", "a", 3, job.AlimTalk))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(recorded) != "[1 2]" || fmt.Sprint(sent) != "[2]" || fmt.Sprint(outcomes) != "[2]" {
		t.Fatalf("recorded %v, sent %v, outcomes for %v; want [1 2], [2], [2]", recorded, sent, outcomes)
	}
}
