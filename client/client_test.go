package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// withStreams starts a NATS server holding the talkrelay streams, as a
// worker creates them, and no worker.
func withStreams(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Run(t).JetStream(t)
	natstest.EnsureStreams(t, js)
	return js
}

func testJob(id string, recipients int) *client.Job {
	j := &client.Job{ID: id, Account: "shop", Kind: client.AlimTalk, Template: "T1"}
	for i := range recipients {
		j.Recipients = append(j.Recipients, client.Recipient{Ref: fmt.Sprint("r", i), Phone: "01012345678", Content: "hello"})
	}
	return j
}

// Publish sends a job to its account's and kind's subject, the urgent one
// for an urgent job, with Nats-Msg-Id = job id; the same job again is
// acked as a duplicate and not stored twice.
func TestPublishSubjectAndIdempotencyKey(t *testing.T) {
	js := withStreams(t)
	c := client.New(js)
	ctx := t.Context()
	normal, urgent := testJob("order.1", 2), testJob("otp-1", 1)
	urgent.Priority = client.Urgent
	for _, tc := range []struct {
		j       *client.Job
		subject string
	}{{normal, "talkrelay.jobs.shop.alimtalk"}, {urgent, "talkrelay.jobs.shop.alimtalk.urgent"}} {
		ack, err := c.Publish(ctx, tc.j)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Subject != tc.subject || ack.Duplicate {
			t.Errorf("job %s: ack %+v, want subject %s, not a duplicate", tc.j.ID, ack, tc.subject)
		}
		msg, err := js.Stream(ctx, streams.JobsStream)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := msg.GetMsg(ctx, ack.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if raw.Subject != tc.subject || raw.Header.Get(jetstream.MsgIDHeader) != tc.j.ID {
			t.Errorf("stored on %s with Nats-Msg-Id %q, want %s and %q", raw.Subject, raw.Header.Get(jetstream.MsgIDHeader), tc.subject, tc.j.ID)
		}
	}
	again, err := c.Publish(ctx, normal)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate {
		t.Errorf("second publish of %s: %+v, want Duplicate", normal.ID, again)
	}
	if n := storedJobs(t, js); n != 2 {
		t.Errorf("jobs stream holds %d messages, want 2", n)
	}
}

func storedJobs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(t.Context(), streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// A job that breaks the schema is refused before anything is published,
// and the error masks the phone number it quotes.
func TestPublishRefusesInvalidJobs(t *testing.T) {
	js := withStreams(t)
	c := client.New(js)
	for name, tc := range map[string]struct {
		edit func(*client.Job)
		want string
	}{
		"alimtalk without template":   {func(j *client.Job) { j.Template = "" }, "template"},
		"account not a subject token": {func(j *client.Job) { j.Account = "shop.eu" }, "/account"},
		"unknown kind":                {func(j *client.Job) { j.Kind = "sms" }, "/kind"},
		"no recipients":               {func(j *client.Job) { j.Recipients = nil }, "/recipients"},
		"bad phone":                   {func(j *client.Job) { j.Recipients[0].Phone = "010-1234-567x" }, "'010-****-567x' is not a phone number"},
		"invalid id":                  {func(j *client.Job) { j.ID = "has space" }, "/id"},
		"metadata too large": {func(j *client.Job) {
			j.Metadata = json.RawMessage(`{"blob":"` + strings.Repeat("x", client.MaxMetadataBytes) + `"}`)
		}, "metadata is"},
	} {
		t.Run(name, func(t *testing.T) {
			j := testJob("order-9", 1)
			tc.edit(j)
			_, err := c.Publish(t.Context(), j)
			var invalid *client.InvalidJobError
			if !errors.As(err, &invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Publish: %v; want an *InvalidJobError about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "1234") {
				t.Errorf("error %q shows the phone number", err)
			}
		})
	}
	if n := storedJobs(t, js); n != 0 {
		t.Errorf("jobs stream holds %d messages, want none", n)
	}
}

// Without the streams, Publish and Wait say that no worker has created
// them.
func TestWithoutStreams(t *testing.T) {
	_, js := natstest.Run(t).JetStream(t)
	c := client.New(js)
	if _, err := c.Publish(t.Context(), testJob("order-1", 1)); !errors.Is(err, client.ErrNotSetUp) {
		t.Errorf("Publish: %v; want ErrNotSetUp", err)
	}
	if _, err := c.Wait(t.Context(), "shop", "order-1", 1); !errors.Is(err, client.ErrNotSetUp) {
		t.Errorf("Wait: %v; want ErrNotSetUp", err)
	}
}

// publishResult stores a result event as a worker does: on its subject,
// with Nats-Msg-Id <job>/<index>. A result published again after the
// stream's duplicate window (a worker that crashed before acking the job)
// is stored again: the test's results stream has a short window, and the
// copy is republished until it is stored rather than acked as a duplicate.
func publishResult(t *testing.T, js jetstream.JetStream, jobID string, index int, status client.Status) {
	t.Helper()
	data := fmt.Sprintf(`{"version":1,"job_id":%q,"recipient_index":%d,"account":"shop","status":%q,"retryable":false,"attempt":1,"reason":"ok","time":"2026-11-21T05:30:00Z"}`,
		jobID, index, status)
	msg := nats.NewMsg(streams.ResultSubject("shop", string(status), jobID))
	msg.Data = []byte(data)
	for {
		ack, err := js.PublishMsg(t.Context(), msg, jetstream.WithMsgID(fmt.Sprintf("%s/%d", jobID, index)))
		if err != nil {
			t.Fatal(err)
		}
		if !ack.Duplicate {
			return
		}
		time.Sleep(10 * time.Millisecond) // until the duplicate window has passed
	}
}

// withShortDedupe starts a server with the streams whose results stream
// forgets message ids after 100 ms.
func withShortDedupe(t *testing.T) jetstream.JetStream {
	t.Helper()
	js := withStreams(t)
	for _, sc := range streams.DefaultConfig().StreamConfigs() {
		if sc.Name == streams.ResultsStream {
			sc.Duplicates = 100 * time.Millisecond // the least NATS allows
			if _, err := js.UpdateStream(t.Context(), sc); err != nil {
				t.Fatal(err)
			}
		}
	}
	return js
}

// Wait returns one result per recipient, ordered by index, keeping the
// first of a recipient whose result was published again; Results skips
// the republished copy by its Nats-Msg-Id. A job id with dots is followed
// on its own subject token, not mixed with another job's.
func TestWaitAndResultsDeduplicate(t *testing.T) {
	js := withShortDedupe(t)
	c := client.New(js)
	const id = "order.7"
	publishResult(t, js, id, 1, client.Accepted)
	publishResult(t, js, id, 0, client.Failed)
	publishResult(t, js, id, 0, client.Accepted) // the same recipient again
	publishResult(t, js, "order.70", 2, client.Accepted)

	// Recipient 2 has no result yet: Wait gives what it has when ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	got, err := c.Wait(ctx, "shop", id, 3)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || summary(got) != "0:failed 1:accepted" {
		t.Fatalf("Wait before recipient 2's result: %s, %v; want 0:failed 1:accepted and a deadline error", summary(got), err)
	}

	publishResult(t, js, id, 2, client.Rejected)
	got, err = c.Wait(t.Context(), "shop", id, 3)
	if err != nil || summary(got) != "0:failed 1:accepted 2:rejected" {
		t.Fatalf("Wait: %s, %v; want 0:failed 1:accepted 2:rejected", summary(got), err)
	}

	var seen []client.Result
	for r, err := range c.Results(t.Context(), client.JobResultsSubject("shop", id)) {
		if err != nil {
			t.Fatal(err)
		}
		if seen = append(seen, r); len(seen) == 3 {
			break
		}
	}
	if s := summary(seen); s != "1:accepted 0:failed 2:rejected" {
		t.Errorf("Results yielded %s, want 1:accepted 0:failed 2:rejected (the copy of 0 skipped)", s)
	}
}

// A job rejected as a whole has one result, index -1, which ends the wait.
func TestWaitWholeJobRejection(t *testing.T) {
	js := withStreams(t)
	publishResult(t, js, "bad-1", -1, client.Rejected)
	got, err := client.New(js).Wait(t.Context(), "shop", "bad-1", 5)
	if err != nil || summary(got) != "-1:rejected" {
		t.Fatalf("Wait: %s, %v; want the one whole-job rejection", summary(got), err)
	}
}

// A subject filter follows the results of several jobs, of one status.
func TestResultsSubjectFilter(t *testing.T) {
	js := withStreams(t)
	publishResult(t, js, "a-1", 0, client.Accepted)
	publishResult(t, js, "a-2", 0, client.Failed)
	publishResult(t, js, "a-3", 1, client.Failed)
	var seen []string
	for r, err := range client.New(js).Results(t.Context(), client.ResultsSubject("shop", client.Failed)) {
		if err != nil {
			t.Fatal(err)
		}
		if seen = append(seen, r.JobID); len(seen) == 2 {
			break
		}
	}
	if s := strings.Join(seen, " "); s != "a-2 a-3" {
		t.Errorf("failed results: %s, want a-2 a-3", s)
	}
}

func summary(rs []client.Result) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%d:%s", r.RecipientIndex, r.Status))
	}
	return strings.Join(parts, " ")
}

// A job published in a traced context carries its trace to the worker:
// every result of the job has the publisher's trace id.
func TestPublishPropagatesTrace(t *testing.T) {
	nc, err := nats.Connect(natsURL) // the worker started by TestMain
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(js)
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(t.Context(), sc)
	j := testJob("traced-1", 2)
	j.Account = "sandbox"
	ack, err := c.Publish(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := s.GetMsg(ctx, ack.Sequence); err == nil {
		if got := raw.Header.Get("traceparent"); !strings.Contains(got, tid.String()) {
			t.Errorf("job message traceparent %q, want trace %s", got, tid)
		}
	} // else the worker already consumed it (work queue): the results tell
	results, err := c.WaitJob(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.TraceID != tid.String() {
			t.Errorf("recipient %d: trace_id %q, want the publisher's %s", r.RecipientIndex, r.TraceID, tid)
		}
	}
}
