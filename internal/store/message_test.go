package store

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
)

// span returns a (non-recording) span with a fixed trace context.
func span(tb testing.TB) trace.Span {
	tb.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.SpanFromContext(trace.ContextWithSpanContext(context.Background(), sc))
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func checkHeader(t *testing.T, m *nats.Msg, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range m.Header {
		if len(v) != 1 {
			t.Errorf("header %s has %d values %q", k, len(v), v)
		}
		got[k] = v[0]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headers\n got %q\nwant %q", got, want)
	}
}

func TestResult(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	j := &job.Job{ID: "order.1", Account: "shop", Kind: job.AlimTalk, Recipients: []job.Recipient{{Phone: "010-1234-5678"}}}
	ev := result.ForRecipient(j, 0, "sandbox", at)
	ev.RecipientIndex, ev.Status, ev.Reason = 3, result.Accepted, result.ReasonOK

	m := Result(Origin{Seq: 42, JobSeq: 7, Span: span(t)}, ev)
	if m.Subject != "talkrelay.results.shop.accepted.order%1" {
		t.Errorf("subject %q", m.Subject)
	}
	if string(m.Data) != string(ev.AppendJSON(nil)) {
		t.Errorf("body %s, want the event's JSON", m.Data)
	}
	checkHeader(t, m, map[string]string{"Nats-Msg-Id": "order.1/3", "Talkrelay-Job-Seq": "7", "traceparent": traceparent})

	// No job seq, no span: neither header.
	m = Result(Origin{Seq: 42}, ev)
	checkHeader(t, m, map[string]string{"Nats-Msg-Id": "order.1/3"})
}

func TestResultWithoutJobID(t *testing.T) {
	t.Parallel()
	ev := result.ForRecipient(&job.Job{}, -1, "", time.Unix(0, 0))
	ev.Account, ev.Status, ev.Reason = "_", result.Rejected, result.ReasonInvalidJob
	m := Result(Origin{Seq: 99}, ev)
	if m.Subject != "talkrelay.results._.rejected._" {
		t.Errorf("subject %q", m.Subject)
	}
	checkHeader(t, m, map[string]string{"Nats-Msg-Id": "seq/99"})
}

func TestResultID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		job   string
		index int
		seq   uint64
		want  string
	}{
		{"a", 0, 5, "a/0"},
		{"a.b", 12, 5, "a.b/12"},
		{"a", -1, 5, "a/-1"},
		{"", 3, 5, "seq/5"},
	} {
		if got := ResultID(tt.job, tt.index, tt.seq); got != tt.want {
			t.Errorf("ResultID(%q, %d, %d) = %q, want %q", tt.job, tt.index, tt.seq, got, tt.want)
		}
	}
}

func TestDeadLetterOfRecipients(t *testing.T) {
	t.Parallel()
	dl := &DeadLetter{Account: "shop", JobID: "order-1", Subject: "talkrelay.jobs.shop.alimtalk",
		Reason: "2 recipient(s) ended without delivery: ...", Recipients: []int{0, 4}, Data: []byte(`{"id":"order-1"}`)}
	m := dl.Msg(17)
	if m.Subject != "talkrelay.dlq.shop" || string(m.Data) != `{"id":"order-1"}` {
		t.Errorf("subject %q, data %s", m.Subject, m.Data)
	}
	checkHeader(t, m, map[string]string{
		"Talkrelay-Reason":     dl.Reason,
		"Talkrelay-Job-Id":     "order-1",
		"Talkrelay-Subject":    "talkrelay.jobs.shop.alimtalk",
		"Talkrelay-Recipients": "0,4",
		"Nats-Msg-Id":          "dlq/17",
	})
}

func TestDeadLetterKeepsTheOriginalHeaders(t *testing.T) {
	t.Parallel()
	orig := nats.Header{"Nats-Msg-Id": {"order-1"}, "traceparent": {traceparent}, "X-Producer": {"shop"}}
	dl := &DeadLetter{Account: "no such account!", Subject: "talkrelay.jobs.x.alimtalk", Reason: "invalid_job: ...",
		Header: orig, Data: []byte("not json")}
	m := dl.Msg(8)
	if m.Subject != "talkrelay.dlq._" {
		t.Errorf("subject %q", m.Subject)
	}
	// No job id: no Talkrelay-Job-Id; no recipients: no Talkrelay-Recipients.
	checkHeader(t, m, map[string]string{
		"traceparent":       traceparent,
		"X-Producer":        "shop",
		"Talkrelay-Reason":  "invalid_job: ...",
		"Talkrelay-Subject": "talkrelay.jobs.x.alimtalk",
		"Nats-Msg-Id":       "dlq/8",
	})
	if orig.Get("Nats-Msg-Id") != "order-1" || len(orig) != 3 {
		t.Errorf("the original headers changed: %q", orig)
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	env := func(due time.Time) *retry.Envelope {
		return &retry.Envelope{ID: "order%1.a0", DueAt: due, Round: 2, JobSeq: 7,
			Job:     &job.Job{ID: "order.1", Account: "shop", Kind: job.AlimTalk, Recipients: []job.Recipient{{Phone: "01012345678"}}},
			Pending: []retry.Pending{{Index: 3, Attempts: 1}}}
	}
	for _, tt := range []struct {
		name   string
		due    time.Time
		urgent bool
		at     string
		target string
		ahead  time.Duration // of the worker's clock over the server's
	}{
		{"due later", now.Add(90 * time.Second), false, "@at 2026-11-21T12:01:30Z", "talkrelay.retry.shop", 0},
		{"urgent lane", now.Add(90 * time.Second), true, "@at 2026-11-21T12:01:30Z", "talkrelay.retry.shop.urgent", 0},
		{"due already: a second from now", now.Add(-time.Minute), false, "@at 2026-11-21T12:00:01Z", "talkrelay.retry.shop", 0},
		{"due within the second", now.Add(500 * time.Millisecond), false, "@at 2026-11-21T12:00:01Z", "talkrelay.retry.shop", 0},
		// A worker clock two hours ahead of the server: due in 90s on it
		// is 90s after the server's now.
		{"worker clock ahead", now.Add(2*time.Hour + 90*time.Second), false, "@at 2026-11-21T12:01:30Z", "talkrelay.retry.shop", 2 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env(tt.due)
			m := Schedule(e, tt.urgent, now.Add(tt.ahead), now, span(t))
			// the first 12 bytes of sha256("order%1.a0"), in hex
			if m.Subject != "talkrelay.sched.shop.bec6d5d4e773a0a3efbfcd76" {
				t.Errorf("subject %q", m.Subject)
			}
			checkHeader(t, m, map[string]string{
				"Nats-Msg-Id":           "retry/order%1.a0",
				"Nats-Schedule":         tt.at,
				"Nats-Schedule-Target":  tt.target,
				"Talkrelay-Retry-Round": "2",
				"traceparent":           traceparent,
			})
			got, err := retry.Decode(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("body decodes to %+v, want %+v", got, e)
			}
			var raw map[string]any
			if json.Unmarshal(m.Data, &raw) != nil || raw["due_at"] != tt.due.Format(time.RFC3339Nano) {
				t.Errorf("due_at %v, want the envelope's own %s", raw["due_at"], tt.due.Format(time.RFC3339Nano))
			}
		})
	}
}
