package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// cancelWaiting ends canceled at once the recipients of a cancelled job
// that wait in a follow-up envelope for another try or for their
// reservation (not those due for a lookup: the provider may have their
// message), instead of when the envelope's schedule comes due. The
// envelopes are found by their send records and, for the job's first
// follow-ups (a held reservation: <job>.a0, .a1, ...), by name, since the
// records of a long hold may have been swept. For each envelope whose
// schedule is still in the jobs stream, it stores a canceled result for
// every recipient without a final one in finals (and adds it there), then
// deletes the schedule. A schedule that fires meanwhile meets the cancel
// marker in the worker that takes it, which publishes the same results
// (one Nats-Msg-Id). It returns how many recipients it ended.
func (w *Worker) cancelWaiting(ctx context.Context, a *account, jobID string, finals map[int]*result.Event, now time.Time) (int, error) {
	recorded, err := w.records.Envelopes(jobID)
	if err != nil {
		return 0, err
	}
	jobs, err := w.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		return 0, err
	}
	n := 0
	done := map[string]bool{}
	// end ends the recipients of envelope id; found is false when it has
	// no schedule in the jobs stream.
	end := func(id string) (found bool, err error) {
		done[id] = true
		sched, err := jobs.GetLastMsgForSubject(ctx, streams.ScheduleSubject(a.Name, streams.HashToken(id)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false, nil // came due already, or never stored
		}
		if err != nil {
			return false, fmt.Errorf("read schedule: %w", err)
		}
		env, err := retry.Decode(sched.Data)
		if err != nil || env.Job.ID != jobID || env.Job.Account != a.Name || lookupEnvelope(env) {
			return true, nil
		}
		for pos, p := range env.Pending {
			if finals[p.Index] != nil {
				continue
			}
			ev := result.ForRecipient(env.Job, pos, a.Provider, now)
			ev.RecipientIndex, ev.Attempt = p.Index, p.Attempts
			ev.Status, ev.Reason, ev.Message = result.Canceled, result.ReasonCanceled, canceledDecision().Outcome.Message
			if env.Job.ReserveAt != nil {
				ev.ReservedBy = result.ReservedByTalkrelay
			}
			if _, err := w.js.PublishMsg(ctx, store.Result(store.Origin{JobSeq: env.JobSeq}, ev)); err != nil {
				return true, fmt.Errorf("store canceled result: %w", err)
			}
			finals[p.Index] = ev
			n++
		}
		if err := jobs.DeleteMsg(ctx, sched.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return true, fmt.Errorf("delete schedule: %w", err)
		}
		return true, nil
	}
	for _, env := range recorded {
		if !done[env.ID] {
			if _, err := end(env.ID); err != nil {
				return n, err
			}
		}
	}
	for chunk := 0; ; chunk++ {
		id := streams.JobToken(jobID) + "." + reconcile.EnvelopeName(false, chunk)
		if done[id] {
			continue
		}
		if found, err := end(id); err != nil || !found {
			return n, err
		}
	}
}

// lookupEnvelope reports whether env holds recipients due for a lookup.
func lookupEnvelope(env *retry.Envelope) bool {
	for _, p := range env.Pending {
		if p.Lookup {
			return true
		}
	}
	return false
}
