package dispatch

import (
	"context"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// A lookup is a provider call like a send: it asks the account's provider
// (its providers.Resolver) what became of messages whose outcome is
// unknown. It waits in the account's queue (urgent before normal) for a
// concurrency slot, which it holds for the whole Resolve call; every HTTP
// request the call makes — a lookup may read pages, or ask per message —
// first waits for the account's rate limiter as one request with one
// recipient, and is then bounded by the account's request timeout. Calls
// end with the shutdown grace like sends; a lookup not yet admitted then
// is reported not made.

// Lookup is one Resolve call on an account's provider.
type Lookup struct {
	Queries []providers.Query
	// Urgent lookups are admitted before the account's queued normal
	// batches and lookups.
	Urgent bool
	// Answer receives Resolve's outcomes and error once the call is over,
	// on a goroutine of its own, after the call's concurrency slot was
	// freed. A call never made (calls ended before its admission) answers
	// an Unknown outcome per query with a *providers.LookupError marking
	// every query NotMade. Answer returns the items to send again (those
	// the provider proved it never took): the dispatcher submits them.
	Answer func(outs []providers.Outcome, err error) []*Item
}

// lookupRecipients is what each request of a lookup counts against the
// account's recipients_per_second: one. Every provider's lookup asks about
// one message per request in the per-message case (Kakao by uid, NAVER and
// NHN per recipient); a list page that answers many counts one too, since
// it sends nothing.
const lookupRecipients = 1

// Lookup queues l on the named account, which must exist and whose
// provider must be a providers.Resolver. It never blocks.
func (d *Dispatcher) Lookup(account string, l *Lookup) {
	a := d.accounts[account]
	d.inflight.Add(1)
	a.mu.Lock()
	if l.Urgent {
		a.urgent = append(a.urgent, batch{lookup: l})
	} else {
		a.normal = append(a.normal, batch{lookup: l})
	}
	a.mu.Unlock()
	a.signal()
}

// admitLookup waits for a concurrency slot for l and starts its call; once
// calls are over, l is answered not made instead.
func (d *Dispatcher) admitLookup(a *account, l *Lookup) {
	select {
	case a.slots <- struct{}{}:
	case <-d.sendCtx.Done():
		go func() {
			outs, err := notMade(len(l.Queries), d.sendCtx.Err())
			d.answer(l, outs, err)
		}()
		return
	}
	go func() {
		outs, err := d.resolve(a, l.Queries)
		<-a.slots
		d.answer(l, outs, err)
	}()
}

// resolve makes the Resolve call of a lookup admitted on a.
func (d *Dispatcher) resolve(a *account, queries []providers.Query) ([]providers.Outcome, error) {
	ctx := providers.WithRequestGate(d.sendCtx, &providers.RequestGate{
		Wait:    func(ctx context.Context) error { return a.Limiter.Wait(ctx, lookupRecipients) },
		Timeout: a.RequestTimeout,
	})
	return a.Client.(providers.Resolver).Resolve(ctx, queries)
}

// answer hands l its answer and submits the items to send again, then
// counts l done. While the dispatcher closes, those items are flushed at
// once: the batcher's linger could otherwise emit them after Close.
func (d *Dispatcher) answer(l *Lookup, outs []providers.Outcome, err error) {
	defer d.inflight.Done()
	if resend := l.Answer(outs, err); len(resend) > 0 {
		d.batcher.Add(resend)
		if d.closing.Load() {
			d.batcher.Flush()
		}
	}
}

// notMade is the answer of a lookup whose call was never made.
func notMade(n int, err error) ([]providers.Outcome, error) {
	outs := make([]providers.Outcome, n)
	skipped := make([]bool, n)
	for i := range outs {
		outs[i] = providers.Outcome{Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown}
		skipped[i] = true
	}
	return outs, &providers.LookupError{NotMade: skipped, Err: err}
}
