package worker

import (
	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/decide"
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/guard"
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
// recipient pos, which passed the provider's Check: a sender the provider
// says is blocked, dormant or missing, or a template that is missing or
// not approved, rejects it (provider_rejected) before any send; a sender
// whose daily quota is spent holds it until the provider's day rolls over
// (daily_quota: hold) or fails it. True when pos was decided here.
func (w *Worker) guarded(d *delivery, pos int) bool {
	r := &d.job.Recipients[pos]
	k := providers.KeyOf(d.job, r, d.acct.Sender)
	s := w.guard.Sender(d.acct.Name, k.Sender)
	why := ""
	if s.Problem != "" {
		why = "sender " + k.Sender + ": " + s.Problem
	} else {
		why = w.guard.Template(d.acct.Name, k.Sender, k.Template)
	}
	if why != "" {
		ev := d.event(pos)
		ev.Status, ev.Reason, ev.Message = result.Rejected, result.ReasonProviderRejected, why+" (template and sender guard)"
		w.storeResult(d, ev)
		d.decided()
		return true
	}
	for _, q := range s.Quotas {
		if q.Kind != d.job.Kind || !q.Spent() {
			continue
		}
		if d.acct.dailyQuota == config.DailyQuotaFail {
			d.final(pos, decide.QuotaSpent())
		} else {
			d.apply(pos, decide.UntilQuotaDay(&d.pending[pos], d.job, w.clock.Now()))
		}
		return true
	}
	return false
}
