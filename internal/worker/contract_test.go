package worker_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/schemas"
)

// The rejections as the README and schemas/ describe them to a producer
// that is not talkrelay's own code: the job id from Nats-Msg-Id when the
// body gives none, the metadata echoed whenever the body is a JSON object,
// one event per recipient for an unknown account (shaped like
// schemas/examples/result-rejected.json), "_" in the subject and the body
// alike for an account that is no subject token, past-deadline jobs failed
// with a detail, and trace context on every result of a job that had none.
func TestRejectionsKeepTheDocumentedContract(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := streams.JobSubject("good", "alimtalk")
	e.publishRaw(good, []byte("\x00\xffgarbage{{"), "raw-1")
	e.publishRaw(good, []byte(`{"version":1,"id":"bad-schema","account":"good","kind":"alimtalk","metadata":{"order":7},"recipients":[]}`), "bad-schema")
	e.publishRaw(streams.JobSubject("no such!", "friendtalk"), []byte(`{"version":1,"id":"bad-account","account":"no such!","kind":"friendtalk","recipients":[{"phone":"01012345678","content":"hi"}]}`), "bad-account")
	big := testJob("too-big", "good", 1)
	big.Recipients[0].Content = strings.Repeat("x", 5000)
	e.publishJob(big)
	e.publishJob(testJob("no-account", "nobody", 2))
	late := testJob("late", "good", 2)
	past := time.Now().Add(-time.Minute)
	late.Deadline = &past
	e.publishJob(late)

	cfg := e.config(sandboxAccount("good", nil))
	cfg.Worker.MaxJobBytes = 4096
	e.start(cfg)

	type stored struct {
		subject, traceparent string
		ev                   result.Event
		fields               map[string]any
	}
	byJob := map[string][]stored{}
	for _, s := range readStream(t, e.js, streams.ResultsStream, 8, 30*time.Second, func(m jetstream.Msg) stored {
		if err := schemas.ValidateResult(m.Data()); err != nil {
			t.Errorf("result event breaks the schema: %v\n%s", err, m.Data())
		}
		s := stored{subject: m.Subject(), traceparent: m.Headers().Get("traceparent")}
		if json.Unmarshal(m.Data(), &s.ev) != nil || json.Unmarshal(m.Data(), &s.fields) != nil {
			t.Fatalf("result event: %s", m.Data())
		}
		return s
	}) {
		byJob[s.ev.JobID] = append(byJob[s.ev.JobID], s)
	}
	one := func(id string) stored {
		t.Helper()
		if len(byJob[id]) != 1 {
			t.Errorf("job %q: %d results, want 1 (all: %q)", id, len(byJob[id]), slices.Collect(maps.Keys(byJob)))
			return stored{}
		}
		return byJob[id][0]
	}

	if s := one("raw-1"); s.ev.RecipientIndex != -1 || s.ev.Reason != result.ReasonInvalidJob ||
		s.subject != "talkrelay.results.good.rejected.raw-1" {
		t.Errorf("non-JSON job published with Nats-Msg-Id raw-1: %s %+v", s.subject, s.ev)
	}
	for _, id := range []string{"bad-schema", "too-big"} {
		if s := one(id); s.fields["metadata"] == nil {
			t.Errorf("whole-job rejection of %s lacks the job's metadata: %+v", id, s.ev)
		}
	}
	if s := one("bad-account"); s.ev.Account != streams.NoAccount || s.subject != "talkrelay.results._.rejected.bad-account" {
		t.Errorf("account %q: subject %s, event account %q; want _ in both", "no such!", s.subject, s.ev.Account)
	}

	example, err := schemas.Files.ReadFile("examples/result-rejected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(example, &want); err != nil {
		t.Fatal(err)
	}
	if got := byJob["no-account"]; len(got) != 2 {
		t.Errorf("unknown account: %d results, want one per recipient (2)", len(got))
	}
	for _, s := range byJob["no-account"] {
		if k, w := slices.Sorted(maps.Keys(s.fields)), slices.Sorted(maps.Keys(want)); !slices.Equal(k, w) {
			t.Errorf("unknown-account result has fields %v; examples/result-rejected.json shows %v", k, w)
		}
		if string(s.ev.Reason) != want["reason"] || s.ev.RecipientIndex < 0 {
			t.Errorf("unknown-account result %+v; the example says reason %v", s.ev, want["reason"])
		}
	}

	if got := byJob["late"]; len(got) != 2 {
		t.Errorf("past-deadline job: %d results, want 2", len(got))
	}
	for _, s := range byJob["late"] {
		if s.ev.Status != result.Failed || s.ev.Reason != result.ReasonDeadlineExceeded || s.ev.Attempt != 0 || !strings.Contains(s.ev.Detail, "deadline") {
			t.Errorf("past-deadline job: %+v; want failed, deadline_exceeded, attempt 0 and a detail", s.ev)
		}
	}

	for id, ss := range byJob {
		for _, s := range ss {
			if s.ev.TraceID == "" || !strings.Contains(s.traceparent, s.ev.TraceID) {
				t.Errorf("result of %q: trace_id %q, traceparent %q; want a generated trace in both", id, s.ev.TraceID, s.traceparent)
			}
		}
	}

	dead := readStream(t, e.js, streams.DLQStream, 6, 10*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	ids := map[string]bool{}
	for _, m := range dead {
		ids[m.Headers().Get(streams.HeaderJobID)] = true
	}
	for _, id := range []string{"raw-1", "bad-schema", "bad-account", "too-big", "no-account", "late"} {
		if !ids[id] {
			t.Errorf("no dead letter with %s: %s (have %v)", streams.HeaderJobID, id, ids)
		}
	}
}

// A job rejected because a phone number breaks the schema does not carry
// that number in its result, its dead letter's reason or the worker's log:
// an invalid number may still be someone's real one.
func TestInvalidPhoneIsMaskedInTheRejection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const phone = "01098765432x"
	e.publishRaw(streams.JobSubject("good", "alimtalk"),
		[]byte(`{"version":1,"id":"bad-phone","account":"good","kind":"alimtalk","template":"T1","recipients":[{"phone":"`+phone+`","content":"hi"}]}`), "bad-phone")
	e.start(e.config(sandboxAccount("good", nil)))
	ev := e.results(1, 30*time.Second)[0]
	if ev.Reason != result.ReasonInvalidJob {
		t.Fatalf("result %s/%s %q; want rejected, invalid_job", ev.Status, ev.Reason, ev.Message)
	}
	dead := readStream(t, e.js, streams.DLQStream, 1, 10*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	for what, text := range map[string]string{"result message": ev.Message, "dead letter reason": dead[0].Headers().Get(streams.HeaderReason)} {
		if strings.Contains(text, "98765") {
			t.Errorf("%s shows the phone number: %q", what, text)
		}
	}
}

// Metadata is repeated in every result event: a job with more than
// job.MaxMetadataBytes of it is rejected as a whole, and the rejection
// leaves it out (a result carrying it could exceed NATS's max_payload).
func TestOversizedMetadataIsRejectedWithoutIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("big-metadata", "good", 2)
	j.Metadata = json.RawMessage(`{"blob":"` + strings.Repeat("x", job.MaxMetadataBytes) + `"}`)
	e.publishJob(j)
	e.start(e.config(sandboxAccount("good", nil)))
	ev := e.results(1, 30*time.Second)[0]
	if ev.Status != result.Rejected || ev.Reason != result.ReasonInvalidJob || ev.RecipientIndex != -1 ||
		!strings.Contains(ev.Message, "metadata") || len(ev.Metadata) != 0 {
		t.Errorf("result %s/%s index %d %q with %d bytes of metadata; want rejected, invalid_job, -1, naming the metadata, without it",
			ev.Status, ev.Reason, ev.RecipientIndex, ev.Message, len(ev.Metadata))
	}
}
