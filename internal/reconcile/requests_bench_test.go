package reconcile

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkRequestRecord writes the send record of one provider request
// (per op): 100 one-recipient jobs (single) or 1000 recipients of one job
// (campaign).
func BenchmarkRequestRecord(b *testing.B) {
	single := make([]Send, 100)
	for i := range single {
		single[i] = Send{JobID: fmt.Sprintf("bench-job-%08d", i), JobSeq: uint64(1000 + i), Attempt: 1}
	}
	campaign := make([]Send, 1000)
	for i := range campaign {
		campaign[i] = Send{JobID: "bench-campaign-0001", JobSeq: 77, Index: 40000 + i, Attempt: 1}
	}
	now := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	for name, sends := range map[string][]Send{"single": single, "campaign": campaign} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				requestRecordJSON(sends, now)
			}
		})
	}
}
