package worker

import (
	"testing"

	"github.com/talkrelay/talkrelay/internal/result"
)

// newTestMetrics returns the metrics of a worker serving account "acct"
// (naver), and an event of that account to count.
func newTestMetrics(tb testing.TB) (*metrics, *result.Event) {
	m, err := newMetrics(func() int { return 0 }, func() int { return 0 }, func() bool { return true }, nil,
		map[string]string{"acct": "naver"})
	if err != nil {
		tb.Fatal(err)
	}
	return m, &result.Event{Account: "acct", Provider: "naver", Status: result.Accepted}
}

// BenchmarkMetricsResult counts one stored result, as the worker does for
// every recipient.
func BenchmarkMetricsResult(b *testing.B) {
	m, ev := newTestMetrics(b)
	b.ReportAllocs()
	for b.Loop() {
		m.result(ev, true)
	}
}

// Counting a result happens once per recipient: it must not allocate.
func TestMetricsResultDoesNotAllocate(t *testing.T) {
	m, ev := newTestMetrics(t)
	if n := testing.AllocsPerRun(100, func() { m.result(ev, true) }); n != 0 {
		t.Errorf("counting a result: %v allocations, want 0", n)
	}
}
