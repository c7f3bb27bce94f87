// Package decide decides what becomes of each recipient of a job: after a
// provider's answer (or a lookup's), a final result, another attempt or a
// lookup, with the time it is due; before an attempt, whether the job's
// deadline has stopped it. It fills in the final result event of a
// recipient from the decision.
//
// Time comes from the caller, who reads it from a Clock: the worker uses
// one clock (Options.Clock, the System clock by default) for every
// decision, deadline check and timestamp it stores. Nothing here keeps
// state or does I/O, so it is tested with fake time and no NATS.
package decide

import (
	"fmt"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// System is the real clock.
var System Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Decision is what becomes of one recipient.
type Decision struct {
	// Verdict: retry.Final, retry.Again or retry.Lookup.
	Verdict retry.Verdict
	// Due is when the next attempt or lookup is due (Again, Lookup).
	Due time.Time
	// Status is the final result's status (Final).
	Status result.Status
	// Detail says, for a Final verdict, why talkrelay gave up on the
	// recipient (attempts, age, deadline, lookups); empty when the
	// provider's answer is final by itself.
	Detail string
	// Outcome is the answer the final result reports (Final).
	Outcome *providers.Outcome
	// At is when the decision was made (After); zero when not recorded.
	// A final result's time is when its outcome was known.
	At time.Time
}

// After decides recipient p after its last attempt (or lookup) gave o, at
// now, under policy. p carries the attempts and lookups made so far and
// when the first attempt was made; deadline is the job's (nil: none);
// canLookup tells whether the provider offers lookups.
func After(policy retry.Policy, p *retry.Pending, o *providers.Outcome, deadline *time.Time, now time.Time, canLookup bool) Decision {
	var dl time.Time
	if deadline != nil {
		dl = *deadline
	}
	verdict, at, status, detail := policy.Decide(o, p.Attempts, p.Lookups, p.FirstSentAt, dl, now, canLookup)
	return Decision{Verdict: verdict, Due: at, Status: status, Detail: detail, Outcome: o, At: now}
}

// NotSent decides recipient p after a try that never reached the provider
// (o says why: its send record could not be stored), at now, under
// policy. It is no attempt: p.Unsent, which counts such tries, sets the
// backoff, and the recipient fails once it reaches retry.MaxUnsent or when
// the job's deadline (nil: none) passes before the next try.
func NotSent(policy retry.Policy, p *retry.Pending, o *providers.Outcome, deadline *time.Time, now time.Time) Decision {
	failed := func(detail string) Decision {
		return Decision{Verdict: retry.Final, Status: result.Failed, Detail: detail, Outcome: o}
	}
	if p.Unsent >= retry.MaxUnsent {
		return failed(fmt.Sprintf("gave up: the send record could not be stored in %d tries, the provider was never called", p.Unsent))
	}
	at := now.Add(max(policy.Backoff(p.Unsent), o.RetryAfter))
	if deadline != nil && !at.Before(*deadline) {
		return failed("gave up: the job's deadline passes before the next try")
	}
	return Decision{Verdict: retry.Again, Due: at}
}

// AdNight reports whether a provider call for job j at now would fall in
// Kakao's ad night (20:50-08:00 KST, code 3022): j is an ad (FriendTalk
// or Brand Message) and is sent at now, or at its reservation when that
// is later.
func AdNight(j *job.Job, now time.Time) bool {
	if !j.Ad || j.Kind == job.AlimTalk {
		return false
	}
	at := now
	if j.ReserveAt != nil && j.ReserveAt.After(now) {
		at = *j.ReserveAt
	}
	return msgcheck.AdNight(at)
}

// Morning is the first 08:00 KST after t, when Kakao takes ads again.
func Morning(t time.Time) time.Time {
	k := t.In(msgcheck.KST)
	m := time.Date(k.Year(), k.Month(), k.Day(), 8, 0, 0, 0, msgcheck.KST)
	if !m.After(t) {
		m = m.AddDate(0, 0, 1)
	}
	return m
}

// OutsideAdNight moves decision dec for recipient p of job j, when it is
// another try (Again) of an ad due in the ad night, to 08:00 KST: whether
// an ad may go out is decided once, before its first try, and a retry
// waits for the morning instead of being refused. When the job's deadline
// comes first, the recipient fails instead.
func OutsideAdNight(dec Decision, p *retry.Pending, j *job.Job) Decision {
	if dec.Verdict != retry.Again || !AdNight(j, dec.Due) {
		return dec
	}
	due := Morning(dec.Due)
	if Expired(j.Deadline, due) {
		return Decision{Verdict: retry.Final, Status: result.Failed,
			Detail: "the job's deadline passes before 08:00 KST, when Kakao takes ads again", Outcome: deadlineOutcome(p)}
	}
	return Decision{Verdict: retry.Again, Due: due}
}

// Expired reports whether deadline (nil: none) has passed at now: a job
// or recipient past its deadline is not sent.
func Expired(deadline *time.Time, now time.Time) bool {
	return deadline != nil && !deadline.After(now)
}

// Stopped is the final decision for recipient p, due for an attempt or a
// lookup after its job's deadline passed: failed, reporting its last
// answer with reason deadline_exceeded.
func Stopped(p *retry.Pending) Decision {
	return Decision{Verdict: retry.Final, Status: result.Failed,
		Detail: "the job's deadline passed before this attempt", Outcome: deadlineOutcome(p)}
}

// deadlineOutcome is the outcome recorded for a recipient stopped by its
// job's deadline: its last provider answer, or a deadline reason.
func deadlineOutcome(p *retry.Pending) *providers.Outcome {
	o := p.Last.Provider()
	if p.Last == nil || p.Last.Class == "" {
		o = providers.Outcome{Class: providers.Permanent}
	}
	o.Reason = result.ReasonDeadlineExceeded
	return &o
}

// Final fills ev, the result event of recipient p, from final decision
// dec. It returns why talkrelay gave up on the recipient — the reason its
// job goes to the dead letters — or "" when the provider's answer is final
// by itself (an acceptance, or a plain refusal, reported by the result
// alone).
func Final(ev *result.Event, p *retry.Pending, dec Decision) (deadEnd string) {
	o := dec.Outcome
	ev.Status = dec.Status
	ev.Retryable = o.Class == providers.Retryable
	ev.Attempt = p.Attempts
	ev.Reason = o.EffectiveReason()
	ev.Code, ev.CodeName, ev.Message, ev.Detail = o.Code, o.CodeName, o.Message, dec.Detail
	ev.ProviderRequestID, ev.ProviderMessageID = o.RequestID, o.MessageID
	if !p.LastSentAt.IsZero() {
		t := p.LastSentAt
		ev.SentAt = &t
	}
	if dec.Detail == "" {
		return ""
	}
	return string(dec.Status) + " (" + string(ev.Reason) + "): " + dec.Detail
}
