package worker

import (
	"context"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// beforeSend records which recipients of which jobs request b is about to
// hand over, at which attempt: one send record for the request. It returns
// once JetStream stored it.
func (w *Worker) beforeSend(ctx context.Context, b *providers.Batch, items []*dispatch.Item) error {
	sends := make([]reconcile.Send, len(b.Messages))
	for i, m := range b.Messages {
		sends[i] = reconcile.Send{JobID: m.Job.ID, JobSeq: refOf(items[i]).d.jobSeq, Index: m.Index, Attempt: m.Attempt}
	}
	return w.records.RecordBatch(ctx, refOf(items[0]).d.acct.Name, b.ID, sends, w.clock.Now())
}

// id names a delivery in the envelope lineage: the job token for a
// fresh job, the envelope's own id for an envelope.
func (d *delivery) id() string {
	if d.envID != "" {
		return d.envID
	}
	return streams.JobToken(d.job.ID)
}

// reconcile prepares a redelivered delivery: it returns the recipients
// (original indexes) to leave alone — those with a stored final result and
// those already handed to a follow-up envelope, which it stores again —
// and marks recipients sent without a recorded answer for a lookup. scan
// has d registered (see want).
func (w *Worker) reconcile(d *delivery, scan *reconcile.Scan) (map[int]bool, error) {
	skip, sent, err := w.records.Reconcile(d.job.Account, d.job.ID, d.id(), d.pending, scan,
		func(env *retry.Envelope) {
			if d.storedEnvelopes == nil {
				d.storedEnvelopes = map[string]bool{}
			}
			d.storedEnvelopes[strings.TrimPrefix(env.ID, d.id()+".")] = true
			w.scheduleEnvelope(d, env)
		})
	if err != nil {
		return nil, err
	}
	if n := len(skip); n > 0 || sent > 0 {
		d.logger().Info().Int("already_final_or_scheduled", n).Int("send_records", sent).Msg("reconciled")
	}
	return skip, nil
}

// want registers redelivered delivery d with scan, which reads, for all
// the deliveries registered, the send records stored since their messages.
func want(scan *reconcile.Scan, d *delivery) {
	scan.Want(d.job.Account, d.job.ID, d.msg.Stored)
}

// sweepSendRecords purges the send records nothing needs any more (see
// reconcile.Sweep) every minute, or every streams.jobs_duplicate_window if
// that is shorter, until ctx ends. Every replica sweeps; a purge that finds
// nothing to purge costs the server little.
func (w *Worker) sweepSendRecords(ctx context.Context) {
	window := w.cfg.Streams.JobsDuplicateWindow
	tick := time.NewTicker(min(time.Minute, window))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sweepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := w.records.Sweep(sweepCtx, time.Now().Add(-window), reconcile.Skew)
		cancel()
		if err != nil && ctx.Err() == nil {
			w.log.Warn().Err(err).Msg("send records not swept; trying again later")
		} else if n > 0 {
			w.log.Debug().Uint64("purged", n).Msg("send records swept")
		}
	}
}
