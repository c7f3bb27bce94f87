package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
)

// resolvingProvider is a fakeProvider that also looks messages up, each
// Resolve call making pages HTTP requests through a gated client.
type resolvingProvider struct {
	*fakeProvider
	hc       *http.Client
	url      string
	pages    int
	resolves atomic.Int64
	// lookedUp, if set, receives a value as each Resolve call starts.
	lookedUp chan struct{}
	// block, if set, holds each Resolve call until it is closed.
	block chan struct{}
}

func (r *resolvingProvider) Resolve(ctx context.Context, qs []providers.Query) ([]providers.Outcome, error) {
	r.resolves.Add(1)
	if r.lookedUp != nil {
		r.lookedUp <- struct{}{}
	}
	if r.block != nil {
		<-r.block
	}
	for range r.pages {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := r.hc.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}
	out := make([]providers.Outcome, len(qs))
	for i := range out {
		out[i] = providers.Outcome{Class: providers.Retryable} // never taken: send again
	}
	return out, nil
}

// countingLimiter admits everything and counts what it admitted.
type countingLimiter struct{ requests, recipients atomic.Int64 }

func (l *countingLimiter) Wait(_ context.Context, n int) error {
	l.requests.Add(1)
	l.recipients.Add(int64(n))
	return nil
}

func newLookupDispatcher(t *testing.T, p *resolvingProvider, lim ratelimit.Limiter, conc int, onOutcome OutcomeFunc) *Dispatcher {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	p.hc, p.url = providers.Gated(srv.Client()), srv.URL
	a := &Account{Name: "a", Provider: "fake", Client: p, Limiter: lim, MaxConcurrency: conc, RequestTimeout: 5 * time.Second}
	return New(Config{Linger: time.Hour, Tracer: noop.NewTracerProvider().Tracer(""), Log: zerolog.Nop()}, []*Account{a}, onOutcome)
}

func queriesOf(its []*Item) []providers.Query {
	qs := make([]providers.Query, len(its))
	for i, it := range its {
		qs[i] = providers.Query{Message: it.Message, Key: it.Key}
	}
	return qs
}

// TestLookupIsAProviderCall: a lookup waits for the account's concurrency
// slot like a send, every HTTP request it makes passes the rate limiter as
// one request of one recipient, and the items its answer hands back are
// sent.
func TestLookupIsAProviderCall(t *testing.T) {
	t.Parallel()
	p := &resolvingProvider{fakeProvider: &fakeProvider{limit: 10, answer: acceptAll, release: make(chan struct{})},
		pages: 3, lookedUp: make(chan struct{}, 1)}
	lim := &countingLimiter{}
	var sent atomic.Int64
	d := newLookupDispatcher(t, p, lim, 1, func(*Item, *providers.Outcome, time.Time) { sent.Add(1) })
	d.Submit(items("send", "a", 1, job.AlimTalk))
	d.Flush()
	for p.inFlight.Load() == 0 { // the send holds the only slot
		time.Sleep(time.Millisecond)
	}
	resend := items("lookup", "a", 2, job.AlimTalk)
	answered := make(chan error, 1)
	d.Lookup("a", &Lookup{Queries: queriesOf(resend), Answer: func(outs []providers.Outcome, err error) []*Item {
		answered <- err
		return resend
	}})
	select {
	case <-p.lookedUp:
		t.Fatal("the lookup ran while a send held the account's only concurrency slot")
	case <-time.After(100 * time.Millisecond):
	}
	p.release <- struct{}{} // the send ends, the lookup takes the slot
	<-p.lookedUp
	if err := <-answered; err != nil {
		t.Fatalf("lookup answered %v", err)
	}
	close(p.release)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 1 send + 3 lookup requests + 1 resend of both items.
	if lim.requests.Load() != 5 || lim.recipients.Load() != 1+3+2 {
		t.Errorf("limiter admitted %d requests / %d recipients, want 5 / 6", lim.requests.Load(), lim.recipients.Load())
	}
	if sent.Load() != 3 || p.calls.Load() != 2 {
		t.Errorf("%d outcomes in %d sends, want 3 in 2 (the resend flushed by Close)", sent.Load(), p.calls.Load())
	}
}

// TestLookupAfterGraceIsNotMade: once calls are over, a lookup waiting
// for a slot is answered at once, every query not made, without a call.
func TestLookupAfterGraceIsNotMade(t *testing.T) {
	t.Parallel()
	hung := make(chan struct{})
	p := &resolvingProvider{fakeProvider: &fakeProvider{limit: 1, answer: func(b *providers.Batch) ([]providers.Outcome, error) {
		<-hung // ignores the call's context
		return acceptAll(b)
	}}}
	d := newLookupDispatcher(t, p, &countingLimiter{}, 1, func(*Item, *providers.Outcome, time.Time) {})
	d.Submit(items("send", "a", 1, job.AlimTalk))
	d.Flush()
	for p.inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	answered := make(chan error, 1)
	q := queriesOf(items("lookup", "a", 2, job.AlimTalk))
	d.Lookup("a", &Lookup{Queries: q, Answer: func(outs []providers.Outcome, err error) []*Item {
		var le *providers.LookupError
		if !errors.As(err, &le) || len(outs) != 2 || len(le.NotMade) != 2 || !le.NotMade[0] || !le.NotMade[1] || outs[0].Class != providers.Unknown {
			t.Errorf("answer %+v, %v; want 2 unknown outcomes, both not made", outs, err)
		}
		answered <- err
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the grace period is over
	closed := make(chan error, 1)
	go func() { closed <- d.Close(ctx) }()
	select {
	case <-answered:
	case <-time.After(time.Minute):
		t.Error("the lookup waiting for the slot was not answered within a minute of the grace period's end")
	}
	close(hung)
	<-closed
	if p.resolves.Load() != 0 {
		t.Errorf("%d Resolve calls after the grace period, want 0", p.resolves.Load())
	}
}

// TestLookupsLeaveASlotForSends: however many lookups are running, they
// hold all the account's slots but one, so a batch is still sent at once.
func TestLookupsLeaveASlotForSends(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	p := &resolvingProvider{fakeProvider: &fakeProvider{limit: 1, answer: acceptAll}, lookedUp: make(chan struct{}, 5), block: release}
	sent := make(chan struct{}, 1)
	d := newLookupDispatcher(t, p, &countingLimiter{}, 3, func(*Item, *providers.Outcome, time.Time) { sent <- struct{}{} })
	for n := range 5 {
		d.Lookup("a", &Lookup{Queries: queriesOf(items(fmt.Sprint("lookup-", n), "a", 1, job.AlimTalk)),
			Answer: func([]providers.Outcome, error) []*Item { return nil }})
	}
	for range 2 { // two lookups take two of the three slots
		<-p.lookedUp
	}
	d.Submit(items("send", "a", 1, job.AlimTalk))
	d.Flush()
	select {
	case <-sent:
	case <-time.After(time.Minute):
		t.Fatal("a batch waited over a minute for a slot while lookups ran")
	}
	if n := p.resolves.Load(); n != 2 {
		t.Errorf("%d lookups running with 3 slots, want 2: one slot stays for sends", n)
	}
	close(release)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := p.resolves.Load(); n != 5 {
		t.Errorf("%d lookups made, want 5", n)
	}
}
