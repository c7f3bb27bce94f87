package store_test

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/store"
)

// BenchmarkResult builds the message of one result event, as the worker
// does for every recipient (no span: tracing off).
func BenchmarkResult(b *testing.B) {
	ev := &result.Event{Version: result.Version, JobID: "01JBENCHJOB0000000000000000", RecipientIndex: 17, Phone: "010****5678",
		Account: "acct", Provider: "naver", Kind: "alimtalk", Status: result.Accepted, Attempt: 1,
		ProviderRequestID: "req-1", Time: time.Unix(1700000000, 0)}
	o := store.Origin{Seq: 12345, JobSeq: 12345}
	b.ReportAllocs()
	for b.Loop() {
		store.Result(o, ev)
	}
}

// A result message is built once per recipient: its subject, body, header
// map, the message with its header values, and one string for both ids.
func TestResultAllocations(t *testing.T) {
	ev := &result.Event{Version: result.Version, JobID: "order.1", RecipientIndex: 3, Account: "shop", Status: result.Accepted,
		Time: time.Unix(1700000000, 0)}
	o := store.Origin{Seq: 42, JobSeq: 4200000}
	if n := testing.AllocsPerRun(100, func() { store.Result(o, ev) }); n > 6 {
		t.Errorf("building a result message: %v allocations, want at most 6", n)
	}
}
