package dispatch

import (
	"fmt"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// benchJobItems returns the items of jobs jobs of n
// recipients each, keyed as the worker keys them (one batch key for all).
func benchJobItems(jobs, n int) [][]*Item {
	out := make([][]*Item, jobs)
	for k := range jobs {
		j := &job.Job{ID: fmt.Sprintf("job-%d", k), Account: "acct", Kind: job.AlimTalk, Template: "T",
			Recipients: make([]job.Recipient, n)}
		out[k] = make([]*Item, n)
		for i := range n {
			j.Recipients[i] = job.Recipient{Phone: "01012345678", Content: "x"}
		}
		src := &Source{Key: providers.KeyOf(j, &j.Recipients[0], "@bench")}
		for i := range n {
			out[k][i] = &Item{Message: providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1}, Source: src, Pos: i}
		}
	}
	return out
}

// BenchmarkBatcherAddSingle adds single-recipient jobs one Add each, as
// the worker's decoders do, into batches of 100 (NAVER) with the default
// 20 ms linger. One op is one Add.
func BenchmarkBatcherAddSingle(b *testing.B) {
	jobs := benchJobItems(1000, 1)
	emitted := 0
	bt := NewBatcher(20*time.Millisecond, func(providers.Key) int { return 100 }, func(_ providers.Key, it []*Item) { emitted += len(it) })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		bt.Add(jobs[i%len(jobs)])
	}
	b.StopTimer()
	bt.Flush()
}

// BenchmarkBatcherAddBig adds a job of 50,000 recipients in one Add into
// batches of 1000 (NHN). One op is one Add of the whole job; ns/recipient
// is reported too.
func BenchmarkBatcherAddBig(b *testing.B) {
	const n = 50_000
	job := benchJobItems(1, n)[0]
	bt := NewBatcher(20*time.Millisecond, func(providers.Key) int { return 1000 }, func(providers.Key, []*Item) {})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bt.Add(job)
	}
	b.StopTimer()
	bt.Flush()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
}
