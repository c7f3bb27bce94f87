package store

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
// that origin's headers only: nothing of its last use stays, neither the
// headers of its origin nor those added to it (a sampled job's result
// gets the trace context of a span of its own).
func TestReleasedResultKeepsNothing(t *testing.T) {
	withState := spanWithState(t, "vendor=abc")
	var full, bare Results
	full.Init(Origin{Seq: 1, JobSeq: 9, Span: withState})
	bare.Init(Origin{Seq: 2})
	long := &result.Event{JobID: "j1", Account: "a", Status: result.Failed, Message: string(make([]byte, 2000))}
	short := &result.Event{JobID: "j2", Account: "a", Status: result.Accepted}
	other := span(t)
	for _, tt := range []struct {
		name          string
		first         func() *ResultMsg
		second        *Results
		secondHeaders map[string]string
	}{
		{"after a message of another origin", func() *ResultMsg { return full.Msg(long) },
			&bare, map[string]string{"Nats-Msg-Id": "j2/0"}},
		{"after a message given headers of its own", func() *ResultMsg {
			m := bare.Msg(long)
			m.SetTrace(withState)
			return m
		}, &bare, map[string]string{"Nats-Msg-Id": "j2/0"}},
		{"after a message given another trace context", func() *ResultMsg {
			m := full.Msg(long)
			m.SetTrace(other) // a traceparent of its own, no tracestate
			return m
		}, &full, map[string]string{"Nats-Msg-Id": "j2/0", "Talkrelay-Job-Seq": "9",
			"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "tracestate": "vendor=abc"}},
	} {
		second := reuse(t, tt.first, func() *ResultMsg { return tt.second.Msg(short) })
		checkHeader(t, &second.Msg, tt.secondHeaders)
		if want := short.AppendJSON(nil); string(second.Data) != string(want) || second.Subject != "talkrelay.results.a.accepted.j2" {
			t.Errorf("%s: %s %s, want %s", tt.name, second.Subject, second.Data, want)
		}
		second.Release()
	}
}

// SetTrace gives a result message the headers InjectTrace writes into a
// copy of its headers.
func TestSetTraceWritesWhatInjectTraceWrites(t *testing.T) {
	t.Parallel()
	withState := spanWithState(t, "vendor=abc")
	invalid := trace.SpanFromContext(t.Context())
	ev := &result.Event{JobID: "j1", Account: "a", Status: result.Accepted}
	for _, o := range []Origin{{Seq: 1, JobSeq: 9, Span: withState}, {Seq: 2, JobSeq: 3, Span: span(t)}, {Seq: 3}} {
		for _, s := range []trace.Span{withState, span(t), invalid} {
			var r Results
			r.Init(o)
			m := r.Msg(ev)
			want := map[string]string{}
			for k, v := range m.Header {
				want[k] = v[0]
			}
			h := nats.Header{}
			InjectTrace(s, h)
			for k, v := range h {
				want[k] = v[0]
			}
			m.SetTrace(s)
			checkHeader(t, &m.Msg, want)
		}
	}
}

// spanWithState returns a span, not sampled, whose context has trace
// state state.
func spanWithState(t *testing.T, state string) trace.Span {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, err := trace.ParseTraceState(state)
	if err != nil {
		t.Fatal(err)
	}
	return trace.SpanFromContext(trace.ContextWithSpanContext(t.Context(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceState: ts})))
}

// reuse releases the message first returns until second returns the same
// one from the pool, and returns it. The pool may drop what it is given
// (always sometimes under -race).
func reuse(t *testing.T, first, second func() *ResultMsg) *ResultMsg {
	t.Helper()
	for range 1000 {
		m := first()
		m.Release()
		if again := second(); again == m {
			return again
		} else {
			again.Release()
		}
	}
	t.Fatal("the pool never handed a released message out again")
	return nil
}
