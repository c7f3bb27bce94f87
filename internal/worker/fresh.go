package worker

import (
	"context"
	"time"

	"github.com/talkrelay/talkrelay/internal/dedupe"
)

// A job id published again after NATS forgot it would be sent twice: the
// jobs stream is a work queue, an acknowledged job is deleted, and a
// restarted server (or a new stream leader) rebuilds its duplicate window
// from the messages it still stores. So before a job's first delivery is
// sent, the worker looks for the traces its id left — results and
// follow-up envelope records stored within streams.jobs_duplicate_window
// (see package dedupe) — for the whole group of jobs a lane took at once
// (two requests, whatever the group's size):
//
//   - no traces: a new job; it is sent.
//   - traces of this very message (they carry its stream sequence): a worker
//     got this far with it before its consumer lost track of the delivery
//     (a consumer deleted and created again, the upgrade from the single
//     consumer of earlier versions): it is reconciled as a redelivery. A
//     recipient it had only handed to a provider left a request send
//     record, which names no job: such a job shows no trace and is sent
//     again (see the README's guarantees).
//   - traces of other messages only: the same job published again; it is
//     acknowledged and nothing is sent. Its results are the ones already
//     stored.
//
// When the traces cannot be read, the jobs are handed back to NATS and
// tried again shortly: nothing is sent without knowing.

func (w *Worker) startFresh(jobs []freshJob) {
	refs := make([]dedupe.Ref, len(jobs))
	for i, f := range jobs {
		refs[i] = dedupe.Ref{Account: f.job.Account, JobID: f.job.ID}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	// The real clock, not w.clock: the window is compared with the
	// timestamps the NATS server stored the traces with.
	found, err := w.traces.Find(ctx, refs, time.Now())
	cancel()
	if err != nil {
		w.log.Warn().Err(err).Int("jobs", len(jobs)).Msg("cannot look for traces of earlier copies of these jobs; handing them back")
		for _, f := range jobs {
			_ = f.msg.NakWithDelay(2 * time.Second)
			f.msg.Done()
		}
		return
	}
	var again []*delivery
	scan := w.records.NewScan()
	for i, f := range jobs {
		switch traceOf(found[i], f.msg.Seq) {
		case traceNone:
			w.runSafely(w.jobDelivery(f.msg, f.job, f.acct), nil)
		case traceSelf:
			d := w.jobDelivery(f.msg, f.job, f.acct)
			want(scan, d)
			again = append(again, d)
		case traceOther:
			w.dropDuplicate(f)
		}
	}
	for _, d := range again {
		w.runSafely(d, scan)
	}
}

type traceKind int

const (
	traceNone  traceKind = iota
	traceSelf            // traces of this message (or of unknown origin)
	traceOther           // traces of other messages only
)

func traceOf(seqs []uint64, seq uint64) traceKind {
	if len(seqs) == 0 {
		return traceNone
	}
	for _, s := range seqs {
		if s == seq || s == 0 {
			return traceSelf
		}
	}
	return traceOther
}

// dropDuplicate acknowledges a job published again and sends nothing.
func (w *Worker) dropDuplicate(f freshJob) {
	log := w.jobLog(f.msg, f.job, 0)
	log.Info().Uint64("stream_seq", f.msg.Seq).
		Msg("job published again after NATS forgot its id: it was sent before, nothing is sent again")
	w.metrics.duplicate(f.acct.Name)
	if err := f.msg.Ack(); err != nil {
		w.log.Warn().Err(err).Str("job_id", f.job.ID).Msg("duplicate job not acknowledged; NATS will deliver it again")
	}
	f.msg.Done()
}
