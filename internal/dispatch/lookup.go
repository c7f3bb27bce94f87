package dispatch

import (
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// A lookup is a provider call like a send: it asks the account's provider
// (its providers.Resolver) what became of messages whose outcome is
// unknown. It takes one of the account's concurrency slots, which it holds
// for the whole Resolve call; every HTTP request the call makes — a lookup
// may read pages, or ask per message — first waits for the account's rate
// limiter as one request with one recipient, and is then bounded by the
// account's request timeout. Lookups hold at most all slots but one (with
// a single slot, they share it with sends), so the account's batches,
// urgent ones first, always have a slot to go through and never queue
// behind a long lookup. Calls end with the shutdown grace like sends; a
// lookup not started by then is answered not made.

// Lookup is one Resolve call on an account's provider.
type Lookup struct {
	Queries []providers.Query
	// Answer receives Resolve's outcomes and error once the call is over,
	// on a goroutine of its own, after the call's concurrency slot was
	// freed. A call never made (calls ended before it started) answers an
	// Unknown outcome per query with a *providers.LookupError marking
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

// Lookup starts l on the named account, which must exist and whose
// provider must be a providers.Resolver. It never blocks: l waits for its
// slot on a goroutine of its own.
func (d *Dispatcher) Lookup(account string, l *Lookup) {
	a := d.accounts[account]
	d.inflight.Add(1)
	go func() {
		if d.acquire(a.lookups) {
			if d.acquire(a.slots) {
				outs, err := d.resolve(a, l.Queries)
				<-a.slots
				<-a.lookups
				d.answer(l, outs, err)
				return
			}
			<-a.lookups
		}
		outs, err := notMade(len(l.Queries), d.sendCtx.Err())
		d.answer(l, outs, err)
	}()
}

// acquire takes a place in sem, unless calls are over.
func (d *Dispatcher) acquire(sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		if d.sendCtx.Err() == nil {
			return true
		}
		<-sem // both were ready: calls being over wins
	case <-d.sendCtx.Done():
	}
	return false
}

// resolve makes the Resolve call of a lookup admitted on a.
func (d *Dispatcher) resolve(a *account, queries []providers.Query) ([]providers.Outcome, error) {
	return a.Client.(providers.Resolver).Resolve(providers.WithRequestGate(d.sendCtx, a.RequestGate(lookupRecipients)), queries)
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
