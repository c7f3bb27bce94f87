package worker

import (
	"testing"

	"github.com/talkrelay/talkrelay/internal/result"
)

// BenchmarkMetricsResult counts one stored result, as the worker does for
// every recipient.
func BenchmarkMetricsResult(b *testing.B) {
	m, err := newMetrics(func() int { return 0 }, func() int { return 0 }, func() bool { return true }, nil,
		map[string]string{"acct": "naver"})
	if err != nil {
		b.Fatal(err)
	}
	ev := &result.Event{Account: "acct", Provider: "naver", Status: result.Accepted}
	b.ReportAllocs()
	for b.Loop() {
		m.result(ev, true)
	}
}

// Counting a result happens once per recipient: it must not allocate.
func TestMetricsResultDoesNotAllocate(t *testing.T) {
	m, err := newMetrics(func() int { return 0 }, func() int { return 0 }, func() bool { return true }, nil,
		map[string]string{"acct": "naver"})
	if err != nil {
		t.Fatal(err)
	}
	ev := &result.Event{Account: "acct", Provider: "naver", Status: result.Accepted}
	if n := testing.AllocsPerRun(100, func() { m.result(ev, true) }); n != 0 {
		t.Errorf("counting a result: %v allocations, want 0", n)
	}
}
