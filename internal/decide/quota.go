package decide

import (
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
)

// QuotaDay is the next 00:00 KST after t: when NHN counts a sender's
// daily quota (dailyMaxCount) afresh.
func QuotaDay(t time.Time) time.Time {
	k := t.In(msgcheck.KST)
	return time.Date(k.Year(), k.Month(), k.Day(), 0, 0, 0, 0, msgcheck.KST).AddDate(0, 0, 1)
}

// UntilQuotaDay holds recipient p of job j, whose sender's daily quota is
// spent at now, until the provider's day rolls over; when the job's
// deadline comes first, it fails now.
func UntilQuotaDay(p *retry.Pending, j *job.Job, now time.Time) Decision {
	due := QuotaDay(now)
	if Expired(j.Deadline, due) {
		return Decision{Verdict: retry.Final, Status: result.Failed,
			Detail:  "the sender's daily quota is spent and the job's deadline passes before the provider's day rolls over (00:00 KST)",
			Outcome: deadlineOutcome(p)}
	}
	return Decision{Verdict: retry.Again, Due: due}
}

// QuotaSpent fails a recipient now: its sender's daily quota is spent and
// its account does not hold such jobs (daily_quota: fail).
func QuotaSpent() Decision {
	return Decision{Verdict: retry.Final, Status: result.Failed, Detail: "the sender's daily quota is spent (daily_quota: fail)",
		Outcome: &providers.Outcome{Class: providers.Permanent, Reason: result.ReasonProviderRejected,
			Message: "daily quota spent"}}
}
