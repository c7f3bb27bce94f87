package report_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
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

// kakaoAccepted stores the accepted results of job j on acct, sent at
// sent, recipient i answered codes[i] and listed by fake with statuses[i],
// and returns an Expiry of acct an hour past its horizon that looks up
// through fake (gated: gate admits each request).
func kakaoAccepted(t *testing.T, js jetstream.JetStream, fake *kakaofake.Fake, j *job.Job, sent time.Time,
	codes, statuses []string, gate *providers.RequestGate) *report.Expiry {
	t.Helper()
	for i := range codes {
		j.Recipients = append(j.Recipients, job.Recipient{Ref: "r" + strconv.Itoa(i), Phone: "01012345678", Content: "hi"})
		ev := result.ForRecipient(j, i, "kakao", sent)
		ev.Status, ev.Reason, ev.Code = result.Accepted, result.ReasonOK, codes[i]
		ev.ProviderRequestID = kakao.CID(j.ID, i)
		ev.ProviderMessageID = fake.Record(kakaofake.Message{CID: ev.ProviderRequestID, Status: statuses[i]})
		data, _ := json.Marshal(ev)
		if _, err := js.Publish(t.Context(), streams.ResultSubject("acct", "accepted", j.ID), data); err != nil {
			t.Fatal(err)
		}
	}
	client := kakaoClient(t, fake, func(s *providers.Spec) { s.ReportsPolled, s.HTTPClient = true, providers.Gated(&http.Client{}) })
	return &report.Expiry{JS: js, Store: reconcile.New(js, nil), Account: "acct", Kinds: []job.Kind{job.AlimTalk}, Horizon: time.Hour,
		Now: func() time.Time { return sent.Add(2 * time.Hour) }, Lookup: client, Gate: gate}
}

// With a ReportLookup (Kakao), the recipients due to expire are asked
// about first, through the account's rate limit: a message answered 100
// that polling never returned is reported from its detail, one still
// processing expires, and a message not answered 100 expires unasked. A
// lookup that fails fails the poll, which moves nothing.
func TestExpiryLooksUpWhatPollingNeverReturned(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	ctx := context.Background()
	fake := kakaofake.New(t)
	sent := time.Date(2026, 6, 20, 3, 0, 0, 0, time.UTC)
	j := &job.Job{Version: 1, ID: "k.2", Account: "acct", Kind: job.AlimTalk, Metadata: json.RawMessage(`{"k":2}`)}
	var admitted atomic.Int64
	x := kakaoAccepted(t, js, fake, j, sent, []string{"100", "100", "100", "200"}, []string{"API_200", "API_200", "API_100", "API_200"},
		&providers.RequestGate{Wait: func(context.Context) error { admitted.Add(1); return nil }})
	polled := &report.Event{Version: report.Version, JobID: j.ID, RecipientIndex: 0, Account: "acct", Provider: "kakao", State: report.Delivered, Time: sent}
	if err := report.Publish(ctx, js, []*report.Event{polled}); err != nil {
		t.Fatal(err)
	}

	fake.Next(providertest.Answer{LookupStatus: http.StatusServiceUnavailable})
	if page, err := x.Poll(ctx, []byte("0"), 100); err == nil {
		t.Fatalf("a lookup answered 503: %+v, want an error", page)
	}
	page, err := x.Poll(ctx, []byte("0"), 100)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Index int
		State report.State
		Code  string
		Ref   string
	}
	var got []view
	for _, ev := range page.Reports {
		got = append(got, view{ev.RecipientIndex, ev.State, ev.Code, ev.Ref})
		if string(ev.Metadata) != `{"k":2}` || ev.ProviderMessageID == "" {
			t.Errorf("report %+v: want the job's metadata and the uid", ev)
		}
	}
	want := []view{{1, report.Delivered, "API_200", "r1"}, {2, report.Expired, "", "r2"}, {3, report.Expired, "", "r3"}}
	if diff := cmp.Diff(want, got); diff != "" || string(page.Next) != "4" {
		t.Errorf("reports (-want +got):\n%s\ncursor %q, want 4", diff, page.Next)
	}
	// Two recipients answered 100 and unreported, asked twice (the failed
	// poll's first request and the second poll's two); every request, the
	// token's too, passed the gate.
	if details, n := fake.Details(), int(admitted.Load()); details != 3 || n != details+fake.TokenRequests() {
		t.Errorf("%d detail requests, %d admitted by the gate; want 3, and every request admitted", details, n)
	}
}

// One poll looks up at most 20 recipients, so that it ends well within
// its lease; the page that reaches them asks for the next poll at once.
func TestExpiryLookupsPerPollBounded(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	fake := kakaofake.New(t)
	const n = 25
	codes, statuses := make([]string, n), make([]string, n)
	for i := range n {
		codes[i], statuses[i] = "100", "API_100"
	}
	j := &job.Job{Version: 1, ID: "k.3", Account: "acct", Kind: job.AlimTalk}
	x := kakaoAccepted(t, js, fake, j, time.Date(2026, 6, 20, 3, 0, 0, 0, time.UTC), codes, statuses, nil)
	page, err := x.Poll(t.Context(), []byte("0"), 100)
	if err != nil || len(page.Reports) != 20 || !page.More || string(page.Next) != "20" || fake.Details() != 20 {
		t.Fatalf("first poll: %v, %d reports, more %v, cursor %q, %d lookups; want 20, more, 20, 20", err, len(page.Reports), page.More, page.Next, fake.Details())
	}
	page, err = x.Poll(t.Context(), page.Next, 100)
	if err != nil || len(page.Reports) != 5 || page.More || fake.Details() != n {
		t.Fatalf("second poll: %v, %d reports, more %v, %d lookups; want 5, no more, %d", err, len(page.Reports), page.More, fake.Details(), n)
	}
}
