package worker

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// tracker holds the in-flight deliveries of this replica, and the job
// messages received but not yet handled: a message waiting in the consume
// buffer is kept alive too, or NATS would redeliver it to another worker
// while this one still holds it, and both would send it.
type tracker struct {
	mu     sync.Mutex
	in     map[*delivery]struct{}
	queued map[jetstream.Msg]time.Time
	wg     sync.WaitGroup
}

func newTracker() *tracker {
	return &tracker{in: map[*delivery]struct{}{}, queued: map[jetstream.Msg]time.Time{}}
}

// receive records a message handed over by the consumer.
func (t *tracker) receive(m jetstream.Msg) {
	t.mu.Lock()
	t.queued[m] = time.Now()
	t.mu.Unlock()
}

// take records that handling of m starts.
func (t *tracker) take(m jetstream.Msg) {
	t.mu.Lock()
	delete(t.queued, m)
	t.mu.Unlock()
}

func (t *tracker) add(d *delivery) {
	t.wg.Add(1)
	t.mu.Lock()
	t.in[d] = struct{}{}
	t.mu.Unlock()
}

func (t *tracker) remove(d *delivery) {
	t.mu.Lock()
	delete(t.in, d)
	t.mu.Unlock()
	t.wg.Done()
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.in)
}

// touch tells NATS that messages received more than age ago, handled or
// still queued, are being worked on, so that their ack wait starts over.
func (t *tracker) touch(age time.Duration) {
	t.mu.Lock()
	var old []jetstream.Msg
	now := time.Now()
	for d := range t.in {
		if now.Sub(d.recv) > age {
			old = append(old, d.msg)
		}
	}
	for m, at := range t.queued {
		if now.Sub(at) > age {
			old = append(old, m)
		}
	}
	t.mu.Unlock()
	for _, m := range old {
		_ = m.InProgress()
	}
}
