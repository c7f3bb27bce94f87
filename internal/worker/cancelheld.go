package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// cancelWaiting ends canceled at once the recipients of a cancelled job
// that wait in a follow-up envelope for another try or for their
// reservation (not those due for a lookup: the provider may have their
// message), instead of when the envelope's schedule comes due. For each
// such envelope whose schedule is still in the jobs stream, it stores a
// canceled result for every recipient without a final one in finals (and
// adds it there), then deletes the schedule. A schedule that fires
// meanwhile meets the cancel marker in the worker that takes it, which
// publishes the same results (one Nats-Msg-Id). It returns how many
// recipients it ended.
func (w *Worker) cancelWaiting(ctx context.Context, a *account, jobID string, finals map[int]*result.Event, now time.Time) (int, error) {
	envs, err := w.records.Envelopes(jobID)
	if err != nil {
		return 0, err
	}
	jobs, err := w.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, env := range envs {
		if env.Job.Account != a.Name || lookupEnvelope(env) {
			continue
		}
		sched, err := jobs.GetLastMsgForSubject(ctx, streams.ScheduleSubject(a.Name, streams.HashToken(env.ID)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // came due already, or handled
		}
		if err != nil {
			return n, fmt.Errorf("read schedule: %w", err)
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
				return n, fmt.Errorf("store canceled result: %w", err)
			}
			finals[p.Index] = ev
			n++
		}
		if err := jobs.DeleteMsg(ctx, sched.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, fmt.Errorf("delete schedule: %w", err)
		}
	}
	return n, nil
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
