package worker

import (
	"sync"
	"time"
)

// tracker holds the in-flight deliveries of this replica.
type tracker struct {
	mu sync.Mutex
	in map[*delivery]struct{}
	wg sync.WaitGroup
}

func newTracker() *tracker { return &tracker{in: map[*delivery]struct{}{}} }

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

// touch tells NATS that deliveries received more than age ago are still
// being worked on, so that their ack wait starts over.
func (t *tracker) touch(age time.Duration) {
	t.mu.Lock()
	var old []*delivery
	now := time.Now()
	for d := range t.in {
		if now.Sub(d.recv) > age {
			old = append(old, d)
		}
	}
	t.mu.Unlock()
	for _, d := range old {
		_ = d.msg.InProgress()
	}
}
