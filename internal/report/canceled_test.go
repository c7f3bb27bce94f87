package report_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A recipient cancelled after it was accepted (a provider reservation
// cancelled: a canceled result after its accepted one) gets no report:
// the provider's report of the cancellation is left out, and it is never
// expired. A cancellation talkrelay did not make (the recipient still
// accepted) is reported, failed; the rest expire. Each accepted recipient
// ends with exactly one report, a canceled one with none.
func TestCanceledRecipientsAreNotReported(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	ctx := context.Background()
	sent := time.Date(2026, 6, 20, 3, 0, 0, 0, time.UTC)
	j := &job.Job{Version: 1, ID: "c.1", Account: "acct", Kind: job.AlimTalk}
	for range 3 {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: "01012345678", Content: "hi"})
	}
	publish := func(status result.Status, i int) {
		ev := result.ForRecipient(j, i, "nhn", sent)
		ev.Status, ev.Reason = status, result.ReasonOK
		data, _ := json.Marshal(ev)
		if _, err := js.Publish(ctx, streams.ResultSubject("acct", string(status), j.ID), data); err != nil {
			t.Fatal(err)
		}
	}
	for i := range j.Recipients {
		publish(result.Accepted, i)
	}
	publish(result.Canceled, 1) // talkrelay cancelled recipient 1's reservation
	now := sent.Add(2 * time.Hour)
	store := reconcile.New(js, nil)
	cancellation := func(i int) providers.Report {
		return providers.Report{JobID: j.ID, Index: i, State: providers.ReportFailed, Code: "CANCEL", Canceled: true}
	}
	w := &report.Window{Reporter: onePage{cancellation(1), cancellation(2)}, Kind: job.AlimTalk, Account: "acct", Provider: "nhn",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: store, Now: func() time.Time { return now }}
	page, err := w.Poll(ctx, []byte(`{"from":"2026-06-20T04:00:00Z"}`), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Reports) != 1 || page.Reports[0].RecipientIndex != 2 || page.Reports[0].State != report.Failed || page.Reports[0].Code != "CANCEL" {
		t.Fatalf("window reports %+v: want c.1/2 only, failed CANCEL (c.1/1 is canceled)", page.Reports)
	}
	if err := report.Publish(ctx, js, page.Reports); err != nil {
		t.Fatal(err)
	}
	x := &report.Expiry{JS: js, Store: store, Account: "acct", Kinds: []job.Kind{job.AlimTalk}, Horizon: time.Hour,
		Now: func() time.Time { return now }}
	page, err = x.Poll(ctx, []byte("0"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Reports) != 1 || page.Reports[0].RecipientIndex != 0 || page.Reports[0].State != report.Expired {
		t.Fatalf("expired %+v: want c.1/0 only (1 canceled, 2 reported)", page.Reports)
	}
}
