package worker

import "sync"

// tracker holds the in-flight deliveries of this replica, so that shutdown
// can wait for them to settle. (Keeping their messages alive is intake's.)
// They are linked through their tracked fields: adding or removing one
// hashes nothing and allocates nothing.
type tracker struct {
	mu   sync.Mutex
	head *delivery // the last added
	n    int
	wg   sync.WaitGroup
}

// tracked links a delivery into its tracker's list; guarded by tracker.mu.
type tracked struct{ prev, next *delivery }

func newTracker() *tracker { return &tracker{} }

func (t *tracker) add(d *delivery) {
	t.wg.Add(1)
	t.mu.Lock()
	d.tracked = tracked{next: t.head}
	if t.head != nil {
		t.head.tracked.prev = d
	}
	t.head = d
	t.n++
	t.mu.Unlock()
}

// remove takes out d, added and not removed yet.
func (t *tracker) remove(d *delivery) {
	t.mu.Lock()
	if d.tracked.prev != nil {
		d.tracked.prev.tracked.next = d.tracked.next
	} else {
		t.head = d.tracked.next
	}
	if d.tracked.next != nil {
		d.tracked.next.tracked.prev = d.tracked.prev
	}
	d.tracked = tracked{}
	t.n--
	t.mu.Unlock()
	t.wg.Done()
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// list returns the in-flight deliveries.
func (t *tracker) list() []*delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*delivery, 0, t.n)
	for d := t.head; d != nil; d = d.tracked.next {
		out = append(out, d)
	}
	return out
}
