package worker

import "sync"

// tracker holds the in-flight deliveries of this replica, so that shutdown
// can wait for them to settle. (Keeping their messages alive is intake's.)
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

// list returns the in-flight deliveries.
func (t *tracker) list() []*delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*delivery, 0, len(t.in))
	for d := range t.in {
		out = append(out, d)
	}
	return out
}
