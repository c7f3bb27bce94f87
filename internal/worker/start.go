package worker

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/talkrelay/talkrelay/internal/intake"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// startGroup starts the messages one lane took: first deliveries of
// envelopes at once, redelivered jobs and envelopes together after
// reconciling them (one read of send records for the group), first
// deliveries of jobs after checking, all together, whether an earlier copy
// of them left traces (see startFresh).
func (w *Worker) startGroup(lane *intake.Lane, msgs []*intake.Msg) {
	var fresh []freshJob
	var again []*delivery
	scan := w.records.NewScan()
	for _, m := range msgs {
		if m.Delivered > 1 {
			w.metrics.redelivered(w.accountLabel(lane.Account))
		}
		w.safely(m, func() {
			var d *delivery
			if strings.HasPrefix(m.Subject(), streams.RetryPrefix+".") {
				d = w.envelopeDelivery(m)
			} else {
				j, acct := w.readJob(m)
				if j != nil && j.Urgent() != lane.Urgent {
					w.warnPriority(lane, m, j)
				}
				switch {
				case j == nil:
				case m.Delivered > 1:
					d = w.jobDelivery(m, j, acct)
				default:
					fresh = append(fresh, freshJob{m, j, acct})
				}
			}
			switch {
			case d == nil:
			case m.Delivered > 1:
				want(scan, d)
				again = append(again, d)
			default:
				w.runSafely(d, nil)
			}
		})
	}
	for _, d := range again {
		w.runSafely(d, scan)
	}
	if len(fresh) > 0 {
		w.startFresh(fresh)
	}
}

// freshJob is a job message on its first delivery.
type freshJob struct {
	msg  *intake.Msg
	job  *job.Job
	acct *account
}

// safely runs f for message m; if f crashes, m is handed back to NATS,
// which redelivers it until worker.max_deliver (then it is dead-lettered as
// poison), and the worker goes on.
func (w *Worker) safely(m *intake.Msg, f func()) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error().Interface("panic", r).Str("subject", m.Subject()).Msg("job handler crashed; the job will be redelivered")
			_ = m.NakWithDelay(time.Second)
			m.Done()
		}
	}()
	f()
}

// warnPriority says, at most once a minute per lane, that a job's priority
// field disagrees with the subject it was published to (which decides).
func (w *Worker) warnPriority(lane *intake.Lane, m *intake.Msg, j *job.Job) {
	now := time.Now().UnixNano() // the real clock: it spaces log lines, it decides nothing
	v, _ := w.priorityWarned.LoadOrStore(lane.Name(), new(atomic.Int64))
	last := v.(*atomic.Int64)
	if prev := last.Load(); now-prev < int64(time.Minute) || !last.CompareAndSwap(prev, now) {
		return
	}
	log := w.jobLog(m, j, 0)
	log.Warn().Str("priority", string(j.Priority)).Bool("urgent_subject", lane.Urgent).
		Msg("the job's priority disagrees with its subject; it is sent as its subject says (publish urgent jobs to talkrelay.jobs.<account>.<kind>.urgent); further such jobs of this lane are not logged for a minute")
}
