package worker

import (
	"time"

	"github.com/talkrelay/talkrelay/internal/decide"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
)

// A reserved job (reserve_at) is sent by its provider at the time when the
// provider's send request has a reservation field and the time is within
// the provider's horizon (providers.Reserving). Otherwise talkrelay holds
// it: a follow-up envelope on the jobs stream's message schedules, as a
// retry waits, due when it can be handed over — at reserve_at for a
// provider without a reservation field (Kakao Enterprise), when reserve_at
// comes within the horizon (less handOverMargin) for one with it. Holding
// makes no provider call and counts no attempt.

// maxReserveAhead is the furthest ahead talkrelay holds a reservation:
// a cancel marker is kept longer (streams.CancelsMaxAge), so a held job is
// never sent after its cancel was forgotten.
const maxReserveAhead = 366 * 24 * time.Hour

// handOverMargin is how much earlier than its horizon allows a held
// reservation is handed to its provider: the provider checks the horizon
// on its own clock, at the time the request arrives.
const handOverMargin = time.Hour

// handOverAt is when job j, reserved, goes to its account's provider, and
// whether the provider holds the reservation from then (false: it is sent
// at that time).
func (a *account) handOverAt(j *job.Job) (at time.Time, byProvider bool) {
	r, ok := a.Client.(providers.Reserving)
	if !ok {
		return *j.ReserveAt, false
	}
	return j.ReserveAt.Add(-r.ReserveHorizon() + handOverMargin), true
}

// held holds recipient pos of a reserved job until it can be handed to the
// provider, and reports whether it did (false: it goes now). A job whose
// deadline comes before its reservation fails now: it could never be sent;
// one reserved more than maxReserveAhead ahead is rejected.
func (d *delivery) held(pos int) bool {
	j := d.job
	if j.ReserveAt == nil {
		return false
	}
	if j.Deadline != nil && j.Deadline.Before(*j.ReserveAt) {
		dec := decide.Stopped(&d.pending[pos])
		dec.Detail = "the job's deadline comes before its reserve_at"
		d.final(pos, dec)
		return true
	}
	now := d.w.clock.Now()
	if j.ReserveAt.Sub(now) > maxReserveAhead {
		d.final(pos, decide.Decision{Verdict: retry.Final, Status: result.Rejected, Outcome: &providers.Outcome{
			Class: providers.Permanent, Reason: result.ReasonInvalidJob, Message: "reserve_at: more than 366 days ahead, further than talkrelay holds a reservation"}})
		return true
	}
	at, _ := d.acct.handOverAt(j)
	if !now.Before(at) {
		return false
	}
	d.follow(pos, false, at)
	return true
}

// reservedBy is who held the reservation of job j when its message was
// accepted: result.ReservedByProvider when the provider took it as a
// reservation, result.ReservedByTalkrelay when talkrelay held it and sent
// it at its time; "" for a job without reserve_at.
func (a *account) reservedBy(j *job.Job) string {
	if j.ReserveAt == nil {
		return ""
	}
	if _, byProvider := a.handOverAt(j); byProvider {
		return result.ReservedByProvider
	}
	return result.ReservedByTalkrelay
}
