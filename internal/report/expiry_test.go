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

// onePage is a WindowReporter that lists the same reports in every window.
type onePage []providers.Report

func (p onePage) ReportKinds() []job.Kind { return []job.Kind{job.AlimTalk} }
func (p onePage) ReportLimits() (time.Duration, time.Duration, int) {
	return time.Minute, time.Hour, 1000
}
func (p onePage) ReportPage(ctx context.Context, kind job.Kind, from, to time.Time, page, size int) (*providers.ReportPage, error) {
	return &providers.ReportPage{Reports: p, Listed: len(p), Total: len(p)}, nil
}

// A recipient without a report past the horizon is reported expired, once;
// a provider report that comes for it later is not published, so it keeps
// exactly one report.
func TestExpiredOnceAndNotReportedAgain(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	ctx := context.Background()
	sent := time.Date(2026, 6, 20, 3, 0, 0, 0, time.UTC)
	j := &job.Job{Version: 1, ID: "x.1", Account: "acct", Kind: job.AlimTalk, Metadata: json.RawMessage(`{"k":1}`)}
	for range 5 {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: "01012345678", Content: "hi"})
	}
	// A FriendTalk job too, whose kind this provider does not report: it
	// is passed, not expired.
	ft := &job.Job{Version: 1, ID: "ft.1", Account: "acct", Kind: job.FriendTalk, Recipients: []job.Recipient{{Phone: "01012345678", Content: "hi"}}}
	for _, jj := range []*job.Job{j, ft} {
		for i := range jj.Recipients {
			ev := result.ForRecipient(jj, i, "nhn", sent)
			ev.Status, ev.Reason = result.Accepted, result.ReasonOK
			data, _ := json.Marshal(ev)
			if _, err := js.Publish(ctx, streams.ResultSubject("acct", "accepted", jj.ID), data); err != nil {
				t.Fatal(err)
			}
		}
	}
	var early []*report.Event
	for _, i := range []int{0, 1} {
		early = append(early, &report.Event{Version: report.Version, JobID: j.ID, RecipientIndex: i, Account: "acct", Provider: "nhn", State: report.Delivered, Time: sent})
	}
	if err := report.Publish(ctx, js, early); err != nil {
		t.Fatal(err)
	}
	now := sent.Add(30 * time.Minute)
	store := reconcile.New(js, nil)
	x := &report.Expiry{JS: js, Store: store, Account: "acct", Kinds: []job.Kind{job.AlimTalk}, Horizon: time.Hour,
		Now: func() time.Time { return now }}
	page, err := x.Poll(ctx, nil, 100)
	if err != nil || len(page.Reports) != 0 || string(page.Next) != "6" {
		t.Fatalf("a new cursor: %v, %+v; want none expired and the cursor at the end of the results", err, page)
	}
	page, err = x.Poll(ctx, []byte("0"), 100)
	if err != nil || len(page.Reports) != 0 || string(page.Next) != "0" || page.More {
		t.Fatalf("before the horizon: %v, %+v", err, page)
	}
	now = sent.Add(2 * time.Hour)
	page, err = x.Poll(ctx, []byte("0"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Reports) != 3 || string(page.Next) != "6" {
		t.Fatalf("past the horizon: %d reports, cursor %q; want 3 (not the FriendTalk one) and 6", len(page.Reports), page.Next)
	}
	for k, ev := range page.Reports {
		if ev.State != report.Expired || ev.RecipientIndex != k+2 || string(ev.Metadata) != `{"k":1}` || ev.Phone == "" {
			t.Errorf("expired report %+v", ev)
		}
	}
	if err := report.Publish(ctx, js, page.Reports); err != nil {
		t.Fatal(err)
	}
	// NHN reports recipient 2 at last, and one of another job.
	w := &report.Window{Reporter: onePage{{JobID: j.ID, Index: 2, State: providers.ReportDelivered, Code: "1000"},
		{JobID: "y", Index: 0, State: providers.ReportFailed, Code: "3018"}},
		Kind: job.AlimTalk, Account: "acct", Provider: "nhn", Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: store,
		Now: func() time.Time { return now }}
	page, err = w.Poll(ctx, []byte(`{"from":"2026-06-20T04:00:00Z"}`), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Reports) != 1 || page.Reports[0].JobID != "y" {
		t.Fatalf("window reports %+v: want y/0 only (x.1/2 has its expired report)", page.Reports)
	}
}
