package worker

import (
	"fmt"
	"testing"

	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/job"
)

// BenchmarkCancelCheck measures the cancel check of a 100-message provider
// request at the fence: with no cancel known, and with 10,000 other jobs
// cancelled.
func BenchmarkCancelCheck(b *testing.B) {
	for _, markers := range []int{0, 10000} {
		b.Run(fmt.Sprintf("markers=%d", markers), func(b *testing.B) {
			w := &Worker{cancels: &cancelSet{jobs: map[cancelID]bool{}}}
			for i := range markers {
				w.cancels.add("shop", fmt.Sprintf("other-%d", i))
			}
			items := make([]*dispatch.Item, 100)
			for i := range items {
				d := &delivery{w: w, job: &job.Job{ID: fmt.Sprintf("order-%d", i), Account: "shop"}}
				items[i] = &dispatch.Item{Source: &dispatch.Source{Owner: d}}
			}
			b.ReportAllocs()
			for b.Loop() {
				if len(w.dropCanceled(items)) != len(items) {
					b.Fatal("dropped an item")
				}
			}
		})
	}
}
