package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
	"github.com/talkrelay/talkrelay/schemas"
)

// cancelJob asks the workers to cancel job id of account and returns the
// answer.
func (e *env) cancelJob(account, id string) client.CancelReply {
	e.t.Helper()
	req, _ := json.Marshal(client.CancelRequest{Version: 1, JobID: id})
	m, err := e.nc.Request(streams.CancelSubject(account), req, 20*time.Second)
	if err != nil {
		e.t.Fatalf("cancel %s: %v", id, err)
	}
	if err := schemas.ValidateCancelReply(m.Data); err != nil {
		e.t.Errorf("cancel reply %s: %v", m.Data, err)
	}
	var r client.CancelReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		e.t.Fatalf("cancel reply %s: %v", m.Data, err)
	}
	return r
}

// TestCancelPendingRetryTwiceAndUnknown: a job with one recipient accepted
// and one waiting in retry backoff is cancelled: the answer counts the
// accepted one too late, and the waiting one ends canceled at once, its
// schedule deleted, without another provider call. Cancelling it again says so
// and changes nothing. Cancelling a job nobody has seen is a plain answer,
// and that job, published afterwards, is not sent: every recipient ends
// canceled.
func TestCancelPendingRetryTwiceAndUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := &scripted{limit: 100, answer: func(phone string, attempt int) providers.Outcome {
		if strings.HasSuffix(phone, "1") {
			o := transient
			o.RetryAfter = 30 * time.Minute
			return o
		}
		return accepted
	}}
	e.startScripted(s, 3)
	j := testJob("backoff", "acct", 2) // recipient 1 (phone ...1) waits 30 minutes for its retry
	e.publishJob(j)
	if ev := e.results(1, 30*time.Second)[0]; ev.RecipientIndex != 0 || ev.Status != result.Accepted {
		t.Fatalf("first result: recipient %d %s, want 0 accepted", ev.RecipientIndex, ev.Status)
	}
	sched := e.schedules(1)

	r := e.cancelJob("acct", "backoff")
	if r.Outcome != client.CancelStored || r.TooLate != 1 || r.Results["accepted"] != 1 || r.Results["canceled"] != 1 {
		t.Fatalf("cancel: %+v; want canceled, 1 too late (accepted), 1 canceled", r)
	}
	ev := e.results(2, 30*time.Second)[1]
	if ev.RecipientIndex != 1 || ev.Status != result.Canceled || ev.Reason != result.ReasonCanceled || ev.Attempt != 1 {
		t.Fatalf("recipient in backoff: %d %s/%s attempt %d; want 1 canceled/canceled after its 1 attempt", ev.RecipientIndex, ev.Status, ev.Reason, ev.Attempt)
	}
	// Its schedule is gone; had it fired meanwhile, the worker taking it
	// would have met the marker: played here, it sends nothing.
	if n, err := e.subjectCount(streams.JobsStream, streams.SchedulePrefix+".>"); err != nil || n != 0 {
		t.Errorf("%d schedules left (%v); want the retry's deleted", n, err)
	}
	e.fireAndSettle(sched)
	if attempts, _ := s.sentTo(j.Recipients[1].Phone); len(attempts) != 1 {
		t.Errorf("recipient in backoff sent %d times; want once, before the cancel", len(attempts))
	}
	again := e.cancelJob("acct", "backoff")
	if again.Outcome != client.CancelAlready || !again.CanceledAt.Equal(*r.CanceledAt) || again.TooLate != 1 || again.Results["canceled"] != 1 {
		t.Errorf("second cancel: %+v; want already_canceled at the first time, 1 too late, 1 canceled", again)
	}

	unknown := e.cancelJob("acct", "not-yet")
	if unknown.Outcome != client.CancelStored || len(unknown.Results) != 0 || !strings.Contains(unknown.Message, "no recipient has a result yet") {
		t.Errorf("cancel of an unknown job: %+v", unknown)
	}
	calls := len(s.calls())
	e.publishJob(testJob("not-yet", "acct", 3))
	for _, ev := range e.results(5, 30*time.Second)[2:] {
		if ev.JobID != "not-yet" || ev.Status != result.Canceled || ev.Attempt != 0 {
			t.Errorf("job published after its cancel: %s #%d %s attempt %d; want canceled, no attempt", ev.JobID, ev.RecipientIndex, ev.Status, ev.Attempt)
		}
	}
	if n := len(s.calls()); n != calls {
		t.Errorf("%d provider calls for the cancelled job; want none", n-calls)
	}
}

// fireAndSettle fires schedules ms (fireSchedules) and waits until the
// worker has acknowledged what they delivered.
func (e *env) fireAndSettle(ms []*jetstream.RawStreamMsg) {
	e.t.Helper()
	e.fireSchedules(ms)
	waitFor(e.t, 30*time.Second, "the fired envelopes handled", func() bool {
		n, err := e.subjectCount(streams.JobsStream, streams.RetryPrefix+".>")
		return err == nil && n == 0
	})
}

// gated is a scripted adapter whose sends wait until the test opens the
// gate.
type gated struct {
	*scripted
	gate    chan struct{}
	entered *atomic.Int32 // sends waiting at the gate or past it
}

func (g gated) Send(ctx context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	g.entered.Add(1)
	<-g.gate
	return g.scripted.Send(ctx, b)
}

// TestCancelQueuedJobAtTheFence: a job queued in the worker behind a
// provider call that has the account's only slot is cancelled; when the
// slot frees, the fence before its request ends it canceled, unsent.
func TestCancelQueuedJobAtTheFence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := gated{&scripted{limit: 1, answer: func(string, int) providers.Outcome { return accepted }}, make(chan struct{}), new(atomic.Int32)}
	a := config.Account{Name: "acct", Provider: "scripted", MaxConcurrency: 1, RequestTimeout: time.Minute, Retry: fastRetry(3)}
	e.startWith(e.config(a), worker.Options{Providers: map[string]providers.Factory{
		"scripted": func(providers.Spec) (providers.Provider, error) { return g, nil },
	}})
	e.publishJob(testJob("first", "acct", 1))
	waitFor(t, 30*time.Second, "the first job's request at the gate", func() bool { return g.entered.Load() == 1 })
	e.publishJob(testJob("queued", "acct", 1))
	waitFor(t, 30*time.Second, "both jobs taken by the worker", func() bool {
		infos, err := jobConsumers(t.Context(), e.js)
		pending := 0
		for _, ci := range infos {
			pending += ci.NumAckPending
		}
		return err == nil && pending == 2
	})
	if r := e.cancelJob("acct", "queued"); r.Outcome != client.CancelStored {
		t.Fatalf("cancel: %+v", r)
	}
	close(g.gate)
	byJob := map[string]result.Event{}
	for _, ev := range e.results(2, 30*time.Second) {
		byJob[ev.JobID] = ev
	}
	if byJob["first"].Status != result.Accepted || byJob["queued"].Status != result.Canceled {
		t.Errorf("results: first %s, queued %s; want accepted, canceled", byJob["first"].Status, byJob["queued"].Status)
	}
	if n := len(g.calls()); n != 1 {
		t.Errorf("%d provider calls; want 1 (the cancelled job's never made)", n)
	}
}

// TestCancelHoldsAcrossRestart: a cancel answered by one worker holds for a
// worker started later (it loads every marker before it consumes).
func TestCancelHoldsAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return accepted }}
	stop := e.startScripted(s, 3)
	if r := e.cancelJob("acct", "after-restart"); r.Outcome != client.CancelStored {
		t.Fatalf("cancel: %+v", r)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.publishJob(testJob("after-restart", "acct", 2))
	e.startScripted(s, 3)
	for _, ev := range e.results(2, 30*time.Second) {
		if ev.Status != result.Canceled {
			t.Errorf("recipient %d: %s; want canceled", ev.RecipientIndex, ev.Status)
		}
	}
	if n := len(s.calls()); n != 0 {
		t.Errorf("%d provider calls; want none", n)
	}
}

// TestCancelHeldReservation: a reservation talkrelay holds (a provider
// without a reservation field) is cancelled after its send records were
// swept: it ends canceled at once, reserved_by talkrelay, and stays unsent
// when its schedule fires anyway.
func TestCancelHeldReservation(t *testing.T) {
	t.Parallel()
	e, p, clock, j, sched := startHeld(t, 1)
	// A long hold outlives its send records (the workers sweep them): the
	// held envelope is found by its name.
	sends, err := e.js.Stream(t.Context(), "KV_"+streams.SendsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := sends.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := e.cancelJob("acct", j.ID); r.Outcome != client.CancelStored || r.TooLate != 0 || r.Results["canceled"] != 1 {
		t.Fatalf("cancel: %+v", r)
	}
	ev := e.results(1, 30*time.Second)[0]
	// Had the schedule fired meanwhile, the worker would have met the marker.
	clock.Set(j.ReserveAt.Add(time.Second))
	e.fireAndSettle(sched)
	if ev.Status != result.Canceled || ev.ReservedBy != result.ReservedByTalkrelay || len(p.calls()) != 0 {
		t.Errorf("held reservation: %s reserved_by %q after %d calls; want canceled, talkrelay, none", ev.Status, ev.ReservedBy, len(p.calls()))
	}
}

// TestCancelInvalidRequest: a request that is not a cancel request is
// answered invalid, saying why, and cancels nothing.
func TestCancelInvalidRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startScripted(&scripted{limit: 100, answer: func(string, int) providers.Outcome { return accepted }}, 3)
	for _, body := range []string{`{`, `{"version":2,"job_id":"a"}`, `{"version":1}`} {
		m, err := e.nc.Request(streams.CancelSubject("acct"), []byte(body), 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas.ValidateCancelReply(m.Data); err != nil {
			t.Errorf("reply to %s: %v", body, err)
		}
		var r client.CancelReply
		if err := json.Unmarshal(m.Data, &r); err != nil || r.Outcome != client.CancelInvalid || r.Message == "" {
			t.Errorf("reply to %s: %s; want invalid with a reason", body, m.Data)
		}
	}
}

// TestCancelMarkerFromAnotherReplica: a running worker learns of a cancel
// marker another replica stored (written here straight into the bucket)
// through its watch, and does not send the job.
func TestCancelMarkerFromAnotherReplica(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return accepted }}
	e.startScripted(s, 3)
	kv, err := e.js.KeyValue(t.Context(), streams.CancelsBucket)
	if err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf(`{"version":1,"account":"acct","job_id":"elsewhere","at":%q}`, time.Now().UTC().Format(time.RFC3339))
	if _, err := kv.Create(t.Context(), streams.CancelKey("acct", "elsewhere"), []byte(marker)); err != nil {
		t.Fatal(err)
	}
	// The watch delivers the bucket's writes in order, and a worker answers
	// a cancel once its watch has its marker: the answer to a later cancel
	// proves the worker has read the first marker too.
	if r := e.cancelJob("acct", "sync"); r.Outcome != client.CancelStored {
		t.Fatalf("cancel: %+v", r)
	}
	e.publishJob(testJob("elsewhere", "acct", 2))
	for _, ev := range e.results(2, 30*time.Second) {
		if ev.Status != result.Canceled {
			t.Errorf("recipient %d: %s; want canceled", ev.RecipientIndex, ev.Status)
		}
	}
	if n := len(s.calls()); n != 0 {
		t.Errorf("%d provider calls; want none", n)
	}
}
