package store

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/result"
)

// The messages of one Results are what Result builds for each event: a
// new subject when the status changes, the shared headers on each.
func TestResultsOfOneOrigin(t *testing.T) {
	t.Parallel()
	j := &job.Job{ID: "order.1", Account: "shop", Kind: job.AlimTalk, Recipients: make([]job.Recipient, 3)}
	o := Origin{Seq: 42, JobSeq: 7, Span: span(t)}
	var r Results
	r.Init(o)
	for i, status := range []result.Status{result.Accepted, result.Accepted, result.Failed} {
		ev := result.ForRecipient(j, i, "sandbox", time.Unix(1700000000, 0))
		ev.Status = status
		m := r.Msg(ev)
		want := Result(o, ev)
		if m.Subject != want.Subject || string(m.Data) != string(want.Data) {
			t.Errorf("recipient %d: subject %q body %s, want %q %s", i, m.Subject, m.Data, want.Subject, want.Data)
		}
		checkHeader(t, &m.Msg, map[string]string{"Nats-Msg-Id": "order.1/" + string(rune('0'+i)), "Talkrelay-Job-Seq": "7", "traceparent": traceparent})
		m.Release()
	}
}

// A released message comes back from the pool for another origin with
// that origin's headers only: nothing of its last use stays.
func TestReleasedResultKeepsNothing(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	state, err := trace.ParseTraceState("vendor=abc")
	if err != nil {
		t.Fatal(err)
	}
	withState := trace.SpanFromContext(trace.ContextWithSpanContext(t.Context(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceState: state})))
	var full, bare Results
	full.Init(Origin{Seq: 1, JobSeq: 9, Span: withState})
	bare.Init(Origin{Seq: 2})
	long := &result.Event{JobID: "j1", Account: "a", Status: result.Failed, Message: string(make([]byte, 2000))}
	short := &result.Event{JobID: "j2", Account: "a", Status: result.Accepted}
	// The pool may drop what it is given (always sometimes under -race):
	// try until the released message is the one handed out again.
	for range 1000 {
		first := full.Msg(long)
		if len(first.Header) != 4 {
			t.Fatalf("headers %v, want all four", first.Header)
		}
		first.Release()
		second := bare.Msg(short)
		if second != first {
			continue
		}
		checkHeader(t, &second.Msg, map[string]string{"Nats-Msg-Id": "j2/0"})
		if want := short.AppendJSON(nil); string(second.Data) != string(want) || second.Subject != "talkrelay.results.a.accepted.j2" {
			t.Errorf("reused message: %s %s, want %s", second.Subject, second.Data, want)
		}
		return
	}
	t.Fatal("the pool never handed a released message out again")
}
