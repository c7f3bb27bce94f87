package worker

import (
	"slices"
	"testing"
)

// Deliveries removed in any order leave the others tracked, and the
// tracker empty once all are gone.
func TestTrackerKeepsTheDeliveriesNotRemoved(t *testing.T) {
	tr := newTracker()
	ds := make([]*delivery, 5)
	for i := range ds {
		ds[i] = &delivery{round: i}
		tr.add(ds[i])
	}
	for _, i := range []int{2, 4, 0} { // the middle, the first added, the last added
		tr.remove(ds[i])
	}
	got := tr.list()
	if tr.count() != 2 || len(got) != 2 || !slices.Contains(got, ds[1]) || !slices.Contains(got, ds[3]) {
		t.Fatalf("tracked %d: %v; want deliveries 1 and 3", tr.count(), got)
	}
	tr.remove(ds[1])
	tr.remove(ds[3])
	tr.add(ds[2]) // an emptied list takes new ones
	if tr.count() != 1 || len(tr.list()) != 1 || tr.list()[0] != ds[2] {
		t.Fatalf("tracked %d: %v; want delivery 2 alone", tr.count(), tr.list())
	}
	tr.remove(ds[2])
	tr.wg.Wait() // every add was removed
	if tr.count() != 0 || len(tr.list()) != 0 {
		t.Fatalf("tracked %d after all were removed", tr.count())
	}
}
