package worker

import (
	"sync"
	"sync/atomic"
	"time"
)

// Every recipient gets exactly one final result, for as long as results are
// kept. A result's Nats-Msg-Id (<job>/<index>) makes the results stream drop
// a second one, but only within its duplicate window (2 minutes). Finals
// published long after a delivery started — by a redelivery, which may
// overlap a worker that lost NATS and still finishes the same message, or
// after a lookup, which runs at least retry.lookup_after (30 s) after the send
// and may take minutes — therefore first read the job's stored finals, read
// at most finalsMaxAge before: a final stored before that read is seen and
// the recipient left alone; one stored after it is younger than the
// duplicate window when this one is published, and de-duplicated. Fresh
// deliveries, which publish within seconds of their start, do not read.

// finalsMaxAge is how old a read of the stored finals may be when a final
// is published: well within the results stream's 2-minute duplicate window.
const finalsMaxAge = time.Minute

// storedFinals caches which recipients of a delivery's job have a final
// result stored, read at most finalsMaxAge ago.
type storedFinals struct {
	enabled atomic.Bool // the delivery checks before its finals
	mu      sync.Mutex
	done    map[int]bool
	at      time.Time
	broken  bool // a read failed: the delivery is handed back
}

// enable makes the delivery check before its finals.
func (f *storedFinals) enable() { f.enabled.Store(true) }

func (f *storedFinals) on() bool { return f.enabled.Load() }

// seed enables the check with done, read at at.
func (f *storedFinals) seed(done map[int]bool, at time.Time) {
	f.mu.Lock()
	f.done, f.at = done, at
	f.mu.Unlock()
	f.enabled.Store(true)
}

// alreadyFinal reports whether recipient index has a final result stored;
// if so, it counts the recipient decided. When the stored results cannot be
// read, nothing may be published: the recipient counts decided and the
// delivery is handed back, to be reconciled.
func (d *delivery) alreadyFinal(index int) bool {
	f := &d.finals
	f.mu.Lock()
	if !f.broken && (f.done == nil || time.Since(f.at) > finalsMaxAge) {
		at := time.Now()
		done, err := d.w.records.Finals(d.job.Account, d.job.ID)
		if err != nil {
			d.logger().Warn().Err(err).Msg("cannot read stored results before publishing final results; the job will be redelivered")
			d.failed.Store(true)
			f.broken = true
		}
		f.done, f.at = done, at
	}
	broken, stored := f.broken, f.done[index]
	f.mu.Unlock()
	if broken {
		d.decided()
		return true
	}
	if stored {
		d.logger().Info().Int("recipient", index).Msg("a final result is stored already; not publishing another")
		d.decided()
	}
	return stored
}
