package worker

import "github.com/talkrelay/talkrelay/internal/dispatch"

// A worker that stops long enough (a GC or VM pause, SIGSTOP, a network
// partition) for NATS to hand its jobs to another replica must not go on
// with them when it resumes: the other replica reconciles them from the
// send records and results stored so far and sends what is left; if this
// one sent its in-memory batches too, providers would take messages twice
// and recipients would get two final results.
//
// So a delivery is this worker's only while intake's lease on its message
// runs (intake.Msg.Lost). Every provider request is fenced: right before
// it is written — and before its send record is stored — the items of
// deliveries whose lease ended are dropped (dispatch Config.Fence). Such a
// delivery is given up at once (lose): nothing more is sent, stored, acked
// or handed back for it, as if this worker had crashed at that moment. Its
// send records stay; the next holder looks those recipients up instead of
// sending them again.

// fence keeps the items whose delivery this worker still holds, and whose
// job is not cancelled.
func (w *Worker) fence(items []*dispatch.Item) []*dispatch.Item {
	items = w.dropCanceled(items)
	for i, it := range items {
		if !w.owns(refOf(it).d) {
			kept := append(make([]*dispatch.Item, 0, len(items)-1), items[:i]...)
			for _, it := range items[i+1:] {
				if w.owns(refOf(it).d) {
					kept = append(kept, it)
				}
			}
			return kept
		}
	}
	return items
}

// owns tells whether d is still this worker's to work on: not settled,
// abandoned or lost. A delivery whose lease just ended is given up here.
func (w *Worker) owns(d *delivery) bool {
	if d.closed.Load() {
		return false
	}
	if d.msg.Lost() {
		w.lose(d)
		return false
	}
	return true
}

// lostLogBurst is how many jobs given up a second are logged; the rest
// are counted in talkrelay_jobs_lost_total only.
const lostLogBurst = 10

// lose gives up d, whose message NATS may have handed to another replica:
// it is released from intake without an ack or nak (either would act on the
// other replica's delivery), and nothing more is done for it.
func (w *Worker) lose(d *delivery) {
	if !d.closed.CompareAndSwap(false, true) {
		return
	}
	w.metrics.lost()
	log := d.logger().Sample(&w.lostLogs) // at most lostLogBurst a second; the metric counts them all
	log.Warn().Uint64("stream_seq", d.msg.Seq).
		Msg("job given up: this worker held it past its ack wait without a confirmed keep-alive (paused or cut off from NATS), so another replica may have it; nothing more is sent or stored for it here")
	w.track.remove(d)
	d.span.End()
	d.msg.Done()
}
