package worker

import (
	"sync"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/decide"
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/guard"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// guardAccounts are the accounts the template and sender guard asks about.
func guardAccounts(accounts []*dispatch.Account) []guard.Account {
	out := make([]guard.Account, len(accounts))
	for i, a := range accounts {
		out[i] = guard.Account{Name: a.Name, Client: a.Client}
	}
	return out
}

// guarded applies the template and sender guard (internal/guard) to
// recipient pos, which passed the provider's Check and has batch key k: a
// sender the provider says is blocked, dormant or missing, or a template
// that is missing or not approved, rejects it (provider_rejected) before
// any send; a sender whose daily quota is spent holds it until the
// provider's day rolls over (daily_quota: hold) or fails it. True when pos
// was decided here.
func (w *Worker) guarded(d *delivery, pos int, k *providers.Key) bool {
	v := w.guardVerdict(d, k)
	if v.why != "" {
		ev := d.event(pos)
		ev.Status, ev.Reason, ev.Message = result.Rejected, result.ReasonProviderRejected, v.why+" (template and sender guard)"
		w.storeResult(d, ev)
		d.decided()
		return true
	}
	if !v.spent {
		return false
	}
	if d.acct.dailyQuota == config.DailyQuotaFail {
		d.final(pos, decide.QuotaSpent())
	} else {
		d.apply(pos, decide.UntilQuotaDay(&d.pending[pos], d.job, w.clock.Now()))
	}
	return true
}

// guardVerdict is what the guard says of a job: the same for all its
// recipients and every job of its account, sender, template and kind,
// until the guard's entries change (its gen).
type guardVerdict struct {
	gen   uint64
	why   string // rejects every recipient
	spent bool   // the sender's daily quota of the job's kind is spent
}

// verdictKey is what a verdict is about.
type verdictKey struct {
	account, sender, template string
	kind                      job.Kind
}

// verdicts keeps the verdicts taken since the guard's entries last
// changed, so that a job costs a map lookup, not the guard's keys and
// lookups: a new gen empties it.
type verdicts struct {
	mu  sync.RWMutex
	gen uint64
	m   map[verdictKey]*guardVerdict
}

// guardVerdict returns the guard's verdict on d's job, whose recipients
// have batch key k: kept in d for its next recipients, and in w.verdicts
// for the next jobs, until the guard's entries change.
func (w *Worker) guardVerdict(d *delivery, k *providers.Key) *guardVerdict {
	gen := w.guard.Gen() // before asking: a change while asking moves it
	if v := d.guard.Load(); v != nil && v.gen == gen {
		return v
	}
	key := verdictKey{d.acct.Name, k.Sender, k.Template, d.job.Kind}
	vs := &w.verdicts
	vs.mu.RLock()
	v := vs.m[key]
	vs.mu.RUnlock()
	if v == nil || v.gen != gen {
		v = &guardVerdict{gen: gen}
		s := w.guard.Sender(d.acct.Name, k.Sender)
		if s.Problem != "" {
			v.why = "sender " + k.Sender + ": " + s.Problem
		} else {
			v.why = w.guard.Template(d.acct.Name, k.Sender, k.Template)
		}
		for _, q := range s.Quotas {
			if q.Kind == d.job.Kind && q.Spent() {
				v.spent = true
			}
		}
		vs.mu.Lock()
		if vs.m == nil || gen > vs.gen {
			vs.gen, vs.m = gen, map[verdictKey]*guardVerdict{}
		}
		if gen == vs.gen {
			vs.m[key] = v
		}
		vs.mu.Unlock()
	}
	d.guard.Store(v)
	return v
}
