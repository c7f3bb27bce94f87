package dedupe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// BenchmarkSeen256 checks 256 fresh jobs, as the worker does for a
// fetched batch, against streams holding 20,000 other jobs' traces.
func BenchmarkSeen256(b *testing.B) {
	for _, dup := range []int{0, 26} {
		b.Run(fmt.Sprintf("dup=%d", dup), func(b *testing.B) {
			e := setup(b)
			for i := range 20000 {
				id := fmt.Sprint("old-", i)
				if _, err := e.js.PublishAsync(streams.ResultSubject("shop", "accepted", id), []byte(`{"status":"accepted"}`)); err != nil {
					b.Fatal(err)
				}
				if _, err := e.js.PublishAsync("$KV."+streams.SendsBucket+"."+JobKey(id)+".b.1", []byte(`{"sends":[[0,1]]}`)); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-e.js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				b.Fatal("publishing timed out")
			}
			refs := make([]Ref, 256)
			for i := range refs {
				refs[i] = Ref{"shop", fmt.Sprint("new-", i)}
				if i < dup {
					refs[i].JobID = fmt.Sprint("old-", i*7)
				}
			}
			c := New(e.nc, Options{})
			defer c.Close()
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				got, err := findAny(c, ctx, refs, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				if got[0] != (dup > 0) {
					b.Fatal("wrong answer")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(refs)), "ns/job")
		})
	}
}
