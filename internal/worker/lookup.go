package worker

import (
	"errors"

	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/retry"
)

// lookupBatch is how many messages one Resolve call asks about.
const lookupBatch = 100

// lookup asks the provider what became of the recipients at positions,
// whose last outcome is unknown, in Resolve calls of at most lookupBatch
// recipients that the dispatcher makes like sends (dispatch.Lookup: the
// account's concurrency slots and rate limit, ended by the shutdown
// grace). It returns at once: lookedUp decides the recipients when each
// call is answered. Without a resolver the recipients are decided now.
func (w *Worker) lookup(d *delivery, positions []int) {
	for len(positions) > 0 {
		chunk := positions[:min(len(positions), lookupBatch)]
		positions = positions[len(chunk):]
		if d.acct.resolver == nil {
			w.disp.Submit(w.lookedUp(d, chunk, nil, nil))
			continue
		}
		queries := make([]providers.Query, len(chunk))
		for i, pos := range chunk {
			p := &d.pending[pos]
			m := providers.Message{Job: d.job, Index: p.Index, Recipient: &d.job.Recipients[pos], Attempt: p.Attempts}
			queries[i] = providers.Query{Message: m, Key: providers.KeyOf(d.job, m.Recipient, d.acct.Sender),
				SentAt: p.LastSentAt, Last: p.Last.Provider()}
		}
		w.disp.Lookup(d.acct.Name, &dispatch.Lookup{Queries: queries,
			Answer: func(outs []providers.Outcome, err error) []*dispatch.Item { return w.lookedUp(d, chunk, outs, err) }})
	}
}

// lookedUp decides the recipients at chunk after their lookup answered
// outs and err (both nil without a resolver). Recipients the provider
// proves it never took come back as items to send again; the rest are
// decided. A lookup counts against retry.max_lookups only when it was
// made: a recipient whose lookup the resolver never got to (a
// *providers.LookupError says which) is looked up again without one
// counted.
func (w *Worker) lookedUp(d *delivery, chunk []int, outs []providers.Outcome, err error) []*dispatch.Item {
	var notMade []bool
	var partial *providers.LookupError
	if errors.As(err, &partial) && len(outs) == len(chunk) && len(partial.NotMade) == len(chunk) {
		notMade = partial.NotMade // some answered, some not
	} else if err == nil && d.acct.resolver != nil && len(outs) != len(chunk) {
		err = errLookupCount
	}
	if err != nil {
		d.logger().Warn().Err(err).Int("recipients", len(chunk)).Msg("lookup failed; will look again")
		if notMade == nil {
			outs = nil
		}
	}
	var resend []*dispatch.Item
	d.finals.enable()
	for i, pos := range chunk {
		p := &d.pending[pos]
		if d.alreadyFinal(p.Index) {
			continue // neither sent again nor given a second result
		}
		o := p.Last.Provider() // unknown, unless the lookup says more
		if outs != nil {
			o = mergeIDs(outs[i], o)
		}
		switch o.Class {
		case providers.Retryable:
			// The provider's records prove it never took the message:
			// sending it again cannot duplicate it.
			p.Lookup, p.Lookups = false, 0
			if it := w.prepare(d, pos); it != nil {
				resend = append(resend, it)
			}
		case providers.Unknown:
			if d.acct.resolver != nil && (notMade == nil || !notMade[i]) {
				p.Lookups++
			}
			d.decide(pos, &o)
		default:
			p.Last = retry.FromProvider(&o)
			d.decide(pos, &o)
		}
	}
	return resend
}

// mergeIDs keeps identifiers of the original answer that a lookup left out.
func mergeIDs(o, last providers.Outcome) providers.Outcome {
	if o.RequestID == "" {
		o.RequestID = last.RequestID
	}
	if o.MessageID == "" {
		o.MessageID = last.MessageID
	}
	if o.Class == providers.Unknown && o.Code == "" {
		o.Code, o.CodeName, o.Message, o.Reason = last.Code, last.CodeName, last.Message, last.Reason
	}
	return o
}

type lookupError string

func (e lookupError) Error() string { return string(e) }

const errLookupCount = lookupError("provider answered a different number of lookups than asked")
