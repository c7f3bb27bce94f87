package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/store"
)

// BenchmarkResult builds the message of one result event, as the worker
// does for every recipient, and releases it once stored (span=true: a job
// not sampled, whose results carry its trace context).
func BenchmarkResult(b *testing.B) {
	ev := &result.Event{Version: result.Version, JobID: "01JBENCHJOB0000000000000000", RecipientIndex: 17, Phone: "010****5678",
		Account: "acct", Provider: "naver", Kind: "alimtalk", Status: result.Accepted, Attempt: 1,
		ProviderRequestID: "req-1", Time: time.Unix(1700000000, 0)}
	for _, o := range []store.Origin{{Seq: 12345, JobSeq: 12345}, {Seq: 12345, JobSeq: 12345, Span: benchSpan()}} {
		b.Run(fmt.Sprintf("span=%v", o.Span != nil), func(b *testing.B) {
			var r store.Results
			r.Init(o)
			b.ReportAllocs()
			for b.Loop() {
				r.Msg(ev).Release()
			}
		})
	}
}

// BenchmarkResultsInFlight builds the result messages of one origin as the
// worker does under load: each is released only after 1024 later ones
// were built (the publisher's slots), so the pool hands out messages that
// are not in the cache, and the recipient index varies.
func BenchmarkResultsInFlight(b *testing.B) {
	ev := &result.Event{Version: result.Version, JobID: "01JBENCHJOB0000000000000000", Phone: "010****5678",
		Account: "acct", Provider: "nhn", Kind: "alimtalk", Status: result.Accepted, Attempt: 1,
		ProviderRequestID: "20260101000000abcdefgh", Time: time.Unix(1700000000, 0)}
	var r store.Results
	r.Init(store.Origin{Seq: 12345, JobSeq: 12345, Span: benchSpan()})
	var inFlight [1024]*store.ResultMsg
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		slot := &inFlight[i%len(inFlight)]
		if *slot != nil {
			(*slot).Release()
		}
		ev.RecipientIndex = i % 50000
		*slot = r.Msg(ev)
		i++
	}
}

func benchSpan() trace.Span {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	return trace.SpanFromContext(trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})))
}

// A result message is built once per recipient: from the pool, with what
// all results of its origin share formatted once and its Nats-Msg-Id
// written into a buffer of its own, it takes no allocation.
func TestResultAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop messages")
	}
	ev := &result.Event{Version: result.Version, JobID: "order-1", RecipientIndex: 3, Account: "shop", Status: result.Accepted,
		Time: time.Unix(1700000000, 0)}
	span := benchSpan()
	for _, o := range []store.Origin{{Seq: 42, JobSeq: 4200000}, {Seq: 42, JobSeq: 4200000, Span: span}} {
		var r store.Results
		r.Init(o)
		if n := testing.AllocsPerRun(100, func() { r.Msg(ev).Release() }); n > 0 {
			t.Errorf("building a result message (span %v): %v allocations, want none", o.Span != nil, n)
		}
	}
}

// Results formats what an origin's results share — job sequence, trace
// context and subject — once, in one allocation: for a one-recipient job,
// that is the one allocation of its result message.
func TestOneResultOfAnOriginAllocatesOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop messages")
	}
	span := benchSpan()
	ev := &result.Event{Version: result.Version, JobID: "order-1", Account: "shop", Status: result.Accepted,
		Time: time.Unix(1700000000, 0)}
	r := new(store.Results) // a delivery's, on the heap
	if n := testing.AllocsPerRun(100, func() {
		r.Init(store.Origin{Seq: 42, JobSeq: 4200000, Span: span})
		r.Msg(ev).Release()
	}); n > 1 {
		t.Errorf("Init and Msg: %v allocations, want at most 1", n)
	}
}
