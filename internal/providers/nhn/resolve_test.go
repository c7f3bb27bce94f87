package nhn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

func resolverSuite(jobOf func(int) *job.Job) providertest.Suite {
	s := suite(jobOf)
	s.NotFoundAfter = DefaultNotFoundAfter
	return s
}

func TestConformanceResolverAlimTalk(t *testing.T) {
	t.Parallel()
	providertest.RunResolver(t, resolverSuite(alimTalkJob))
}

func TestConformanceResolverFriendTalk(t *testing.T) {
	t.Parallel()
	providertest.RunResolver(t, resolverSuite(friendTalkJob))
}

// newClocked starts a fake and a client on one clock at daytime.
func newClocked(t *testing.T) (*nhnfake.Fake, *Client, *providertest.Clock) {
	t.Helper()
	clk := providertest.NewClock(daytime)
	f := nhnfake.New(t, nhnfake.WithClock(clk.Now))
	c := newTestClient(t, f.URL())
	c.now = clk.Now
	return f, c, clk
}

// queries asks about every message of b, sent at sentAt with last outcome o.
func queries(b *providers.Batch, sentAt time.Time, o providers.Outcome) []providers.Query {
	qs := make([]providers.Query, len(b.Messages))
	for i, m := range b.Messages {
		qs[i] = providers.Query{Message: m, Key: b.Key, SentAt: sentAt, Last: o}
	}
	return qs
}

func classes(out []providers.Outcome) []providers.Class {
	cs := make([]providers.Class, len(out))
	for i, o := range out {
		cs[i] = o.Class
	}
	return cs
}

// TestDuplicateKeyResolvesToAccepted is the redelivery path: the first
// call is taken and its answer lost, the same attempt sent again gets
// -1005 (Unknown), and the lookup finds the first call's messages.
func TestDuplicateKeyResolvesToAccepted(t *testing.T) {
	t.Parallel()
	f, c, clk := newClocked(t)
	j := alimTalkJob(3)
	b := providertest.Batch(j, 3)

	f.Next(providertest.Answer{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	_, err := c.Send(ctx, b)
	cancel()
	if o := providers.OutcomeOf(err); o.Class != providers.Unknown || o.Reason != result.ReasonTimeout {
		t.Fatalf("first Send: %+v, want unknown timeout", o)
	}

	clk.Advance(3 * time.Minute) // the redelivery comes later, within 10 minutes
	_, err = c.Send(t.Context(), b)
	last := providers.OutcomeOf(err)
	if last.Class != providers.Unknown || last.Code != "-1005" {
		t.Fatalf("repeated Send: %+v, want unknown -1005", last)
	}
	sentAt := clk.Now()

	out, err := c.Resolve(t.Context(), queries(b, sentAt, last))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	recs := f.Records()
	if len(recs) != 3 {
		t.Fatalf("fake holds %d records, want 3", len(recs))
	}
	for i, o := range out {
		want := providers.Outcome{Class: providers.Accepted, Code: "1000", CodeName: "listed: delivered",
			Message: "성공", RequestID: recs[i].RequestID, MessageID: fmt.Sprint(i + 1)}
		if d := cmp.Diff(want, o); d != "" {
			t.Errorf("lookup %d (-want +got):\n%s", i, d)
		}
		if n := f.Accepted(RecipientGroupingKey(j.ID, i)); n != 1 {
			t.Errorf("recipient %d taken %d times, want 1", i, n)
		}
	}
	if f.Sends() != 2 || f.Lookups() != 3 {
		t.Errorf("fake saw %d sends and %d lookups, want 2 and 3 (one per grouping key)", f.Sends(), f.Lookups())
	}

	// After the 10 minutes the key is free again and NHN would take the
	// batch a second time: the window the key does not cover.
	clk.Advance(10 * time.Minute)
	if _, err := c.Send(t.Context(), b); err != nil {
		t.Fatalf("Send after the idempotency window: %v", err)
	}
	if n := f.Accepted(RecipientGroupingKey(j.ID, 0)); n != 2 {
		t.Errorf("recipient 0 taken %d times after the window, want 2", n)
	}
}

func TestResolvePaging(t *testing.T) {
	t.Parallel()
	f, c, clk := newClocked(t)
	c.pageSize = 2
	j := friendTalkJob(1)
	// Five attempts of one recipient taken: five records under one key.
	var last *providers.Batch
	for attempt := 1; attempt <= 5; attempt++ {
		b := providertest.Batch(j, 1)
		b.ID = fmt.Sprintf("%s-a%d", b.ID, attempt)
		b.Messages[0].Attempt = attempt
		if _, err := c.Send(t.Context(), b); err != nil {
			t.Fatalf("Send attempt %d: %v", attempt, err)
		}
		clk.Advance(time.Minute)
		last = b
	}
	recs := f.Records()
	first := recs[0].RequestID
	// Only the oldest went out; the fake lists newest first, so it is on
	// the third page.
	f.EditRecords(func(r *nhnfake.Record) {
		if r.RequestID != first {
			r.MessageStatus, r.ResultCode, r.ResultCodeName = "FAILED", "3019", "not a KakaoTalk user"
		}
	})
	sentAt := clk.Now().Add(-DefaultNotFoundAfter)
	out, err := c.Resolve(t.Context(), queries(last, sentAt, providers.Outcome{Class: providers.Unknown}))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if out[0].Class != providers.Accepted || out[0].RequestID != first || out[0].MessageID != "1" {
		t.Errorf("outcome %+v, want accepted from request %s", out[0], first)
	}
	if n := f.Lookups(); n != 3 {
		t.Errorf("%d list requests for 5 records in pages of 2, want 3", n)
	}

	// All failed: the latest failure decides (the request named by Last
	// first).
	f.EditRecords(func(r *nhnfake.Record) { r.MessageStatus, r.ResultCode = "FAILED", "3019" })
	out, err = c.Resolve(t.Context(), queries(last, sentAt, providers.Outcome{Class: providers.Unknown}))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if out[0].Class != providers.Permanent || out[0].Code != "3019" || out[0].RequestID != recs[4].RequestID {
		t.Errorf("outcome %+v, want permanent 3019 of the latest request %s", out[0], recs[4].RequestID)
	}
	out, err = c.Resolve(t.Context(), queries(last, sentAt, providers.Outcome{Class: providers.Unknown, RequestID: recs[2].RequestID}))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if out[0].RequestID != recs[2].RequestID {
		t.Errorf("outcome %+v, want the record of the request Last names (%s)", out[0], recs[2].RequestID)
	}
}

// TestResolveListAnswers covers list answers the fake does not give:
// cut-short pages, failed headers, unreadable bodies, HTTP failures.
func TestResolveListAnswers(t *testing.T) {
	t.Parallel()
	msg := func(seq int, key, status, code string) string {
		return fmt.Sprintf(`{"requestId":"r%d","recipientSeq":%d,"recipientNo":"01000000000","requestDate":"2026-06-20 12:00","createDate":"2026-06-20 12:00:01","messageStatus":%q,"resultCode":%q,"recipientGroupingKey":%q}`,
			seq, seq, status, code, key)
	}
	ok := func(total int, msgs ...string) string {
		return fmt.Sprintf(`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"messageSearchResultResponse":{"messages":[%s],"totalCount":%d}}`,
			strings.Join(msgs, ","), total)
	}
	key := RecipientGroupingKey("job-at-1", 0)
	for _, tc := range []struct {
		name   string
		status int
		pages  []string // answer to pageNum 1, 2, ...
		sentAt time.Duration
		class  providers.Class // 0: Resolve fails
	}{
		{"one page, sent", 200, []string{ok(1, msg(1, key, "COMPLETED", "1000"))}, 0, providers.Accepted},
		{"pending, no code yet", 200, []string{ok(1, msg(1, key, "READY", ""))}, 0, providers.Accepted},
		{"numeric resultCode", 200, []string{strings.Replace(ok(1, msg(1, key, "COMPLETED", "1000")), `"resultCode":"1000"`, `"resultCode":1000`, 1)}, 0, providers.Accepted},
		{"two pages by totalCount", 200, []string{ok(2, msg(1, key, "FAILED", "3019")), ok(2, msg(2, key, "COMPLETED", "1000"))}, 0, providers.Accepted},
		{"empty page before totalCount", 200, []string{ok(3, msg(1, key, "FAILED", "3019")), ok(3)}, 0, 0},
		{"empty, early", 200, []string{ok(0)}, 0, providers.Unknown},
		{"empty, settled", 200, []string{ok(0)}, DefaultNotFoundAfter, providers.Retryable},
		{"only other keys, settled", 200, []string{ok(1, msg(1, "other/0", "COMPLETED", "1000"))}, DefaultNotFoundAfter, providers.Retryable},
		{"records without keys, settled", 200, []string{ok(1, msg(1, "", "COMPLETED", "1000"))}, DefaultNotFoundAfter, providers.Unknown},
		{"retryable failure, early", 200, []string{ok(1, msg(1, key, "FAILED", "3012"))}, 0, providers.Unknown},
		{"retryable failure, settled", 200, []string{ok(1, msg(1, key, "FAILED", "3012"))}, DefaultNotFoundAfter, providers.Retryable},
		{"failed header", 200, []string{`{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`}, 0, 0},
		{"no messageSearchResultResponse", 200, []string{`{"header":{"resultCode":0,"isSuccessful":true}}`}, DefaultNotFoundAfter, 0},
		{"not JSON", 200, []string{`<html>`}, DefaultNotFoundAfter, 0},
		{"HTTP 500", 500, []string{`{"header":{"resultCode":-9999,"resultMessage":"System error","isSuccessful":false}}`}, DefaultNotFoundAfter, 0},
		{"HTTP 404 empty", 404, []string{``}, DefaultNotFoundAfter, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				page := 0
				fmt.Sscan(r.URL.Query().Get("pageNum"), &page)
				if page < 1 || page > len(tc.pages) {
					t.Errorf("request for page %q of %d", r.URL.Query().Get("pageNum"), len(tc.pages))
					page = len(tc.pages)
				}
				writeJSON(w, tc.status, tc.pages[page-1])
			}))
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL)
			b := providertest.Batch(alimTalkJob(1), 1)
			out, err := c.Resolve(t.Context(), queries(b, daytime.Add(-tc.sentAt), providers.Outcome{Class: providers.Unknown}))
			if tc.class == 0 {
				if err == nil {
					t.Fatalf("Resolve = %+v, want an error", out)
				}
				if tc.status != 200 {
					var pe *providers.Error
					if !errors.As(err, &pe) || pe.HTTPStatus != tc.status {
						t.Errorf("error %v does not wrap a *providers.Error with HTTP %d", err, tc.status)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if out[0].Class != tc.class {
				t.Errorf("outcome %+v, want %s", out[0], tc.class)
			}
			if n := int(calls.Load()); n != len(tc.pages) {
				t.Errorf("%d list requests, want %d", n, len(tc.pages))
			}
		})
	}
}

func TestRecordOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status, code, resend string
		class                providers.Class
	}{
		{"COMPLETED", "1000", "RSC01", providers.Accepted},
		{"COMPLETED", "MRC01", "", providers.Accepted},
		{"COMPLETED", "3005", "", providers.Accepted}, // sent, receipt unconfirmed: never resend
		{"", "", "", providers.Accepted},              // taken, nothing known yet
		{"READY", "", "", providers.Accepted},
		{"FAILED", "", "", providers.Permanent},
		{"CANCEL", "", "", providers.Permanent},
		{"FAILED", "3019", "RSC01", providers.Permanent},
		{"FAILED", "MRC02", "", providers.Permanent},
		{"FAILED", "3012", "RSC05", providers.Retryable},
		{"FAILED", "3012", "RSC02", providers.Accepted}, // fallback due
		{"FAILED", "3019", "RSC04", providers.Accepted}, // fallback sent
		{"FAILED", "-9999", "", providers.Retryable},
		{"FAILED", "-2018", "", providers.Permanent},
		{"FAILED", "9876", "", providers.Permanent},
	} {
		m := listMessage{RequestID: "r", RecipientSeq: 2, MessageStatus: tc.status, ResultCode: code(tc.code), ResendStatus: tc.resend}
		o := recordOutcome(&m)
		if o.Class != tc.class || o.CodeName == "" || o.RequestID != "r" || o.MessageID != "2" {
			t.Errorf("%s/%s/%s: %+v, want %s with a name and the record's ids", tc.status, tc.code, tc.resend, o, tc.class)
		}
	}
}

// TestResolveWindows checks the requestDate window and the query as NHN
// receives it: around the send, around a reservation, and a day back when
// the send time is unknown.
func TestResolveWindows(t *testing.T) {
	t.Parallel()
	reserved := alimTalkJob(1)
	at := daytime.Add(48 * time.Hour)
	reserved.ReserveAt = &at
	for _, tc := range []struct {
		name       string
		j          *job.Job
		sentAt     time.Time
		start, end string
	}{
		{"around the send", alimTalkJob(1), daytime, "2026-06-20 11:45", "2026-06-20 12:10"},
		{"around the send, UTC clock", alimTalkJob(1), daytime.UTC().Add(30 * time.Second), "2026-06-20 11:45", "2026-06-20 12:10"},
		{"around the reservation", reserved, daytime, "2026-06-22 11:45", "2026-06-22 12:10"},
		{"unknown send time", alimTalkJob(1), time.Time{}, "2026-06-19 12:00", "2026-06-20 12:10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = append(got, r.URL.RawQuery)
				writeJSON(w, 200, `{"header":{"resultCode":0,"isSuccessful":true},"messageSearchResultResponse":{"messages":[],"totalCount":0}}`)
			}))
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL)
			b := providertest.Batch(tc.j, 1)
			out, err := c.Resolve(t.Context(), queries(b, tc.sentAt, providers.Outcome{Class: providers.Unknown}))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			enc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, " ", "%20"), ":", "%3A") }
			want := "endRequestDate=" + enc(tc.end) + "&pageNum=1&pageSize=1000&recipientGroupingKey=job-at-1%2F0&startRequestDate=" + enc(tc.start)
			if len(got) != 1 || got[0] != want {
				t.Errorf("queries %q, want [%s]", got, want)
			}
			if tc.sentAt.IsZero() && out[0].Class != providers.Unknown {
				t.Errorf("absence with an unknown send time: %s, want unknown", out[0].Class)
			}
		})
	}
}

func TestResolveGroupsQueries(t *testing.T) {
	t.Parallel()
	f, c, clk := newClocked(t)
	at, ft := alimTalkJob(2), friendTalkJob(1)
	for _, b := range []*providers.Batch{providertest.Batch(at, 2), providertest.Batch(ft, 1)} {
		if _, err := c.Send(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	bat, bft := providertest.Batch(at, 2), providertest.Batch(ft, 1)
	qs := append(queries(bat, clk.Now(), providers.Outcome{}), queries(bft, clk.Now(), providers.Outcome{})...)
	qs = append(qs, qs[0], providers.Query{}) // a repeat, and one that cannot be looked up
	out, err := c.Resolve(t.Context(), qs)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := []providers.Class{providers.Accepted, providers.Accepted, providers.Accepted, providers.Accepted, providers.Unknown}
	if d := cmp.Diff(want, classes(out)); d != "" {
		t.Errorf("classes (-want +got):\n%s", d)
	}
	if n := f.Lookups(); n != 3 {
		t.Errorf("%d list requests for 3 grouping keys, want 3", n)
	}
	if out, err := c.Resolve(t.Context(), nil); err != nil || len(out) != 0 {
		t.Errorf("Resolve(nil) = %v, %v", out, err)
	}
}

func TestResolveCancelled(t *testing.T) {
	t.Parallel()
	f, c, clk := newClocked(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := providertest.Batch(alimTalkJob(6), 6)
	out, err := c.Resolve(ctx, queries(b, clk.Now(), providers.Outcome{}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Resolve with a cancelled context: %v, want context.Canceled", err)
	}
	if n := f.Lookups(); n != 0 {
		t.Errorf("%d list requests after cancel", n)
	}
	// No lookup was made: every query is unknown and marked so, for the
	// caller not to count a lookup.
	var le *providers.LookupError
	if !errors.As(err, &le) || len(out) != 6 || len(le.NotMade) != 6 {
		t.Fatalf("Resolve = %d outcomes, %v; want 6 and a *providers.LookupError", len(out), err)
	}
	for i := range out {
		if out[i].Class != providers.Unknown || !le.NotMade[i] {
			t.Errorf("query %d: %s, not made %v; want unknown, not made", i, out[i].Class, le.NotMade[i])
		}
	}
}

// TestResolveFailedListingFailsOnlyItsQueries: the listing of one
// grouping key fails (HTTP 500); the queries of the other keys get their
// answers, and the failed one is unknown, its lookup made.
func TestResolveFailedListingFailsOnlyItsQueries(t *testing.T) {
	t.Parallel()
	f, _, clk := newClocked(t)
	j := alimTalkJob(3)
	b := providertest.Batch(j, 3)
	c0 := newTestClient(t, f.URL())
	c0.now = clk.Now
	if _, err := c0.Send(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	failing := RecipientGroupingKey(j.ID, 1)
	var lists atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lists.Add(1)
		if r.URL.Query().Get("recipientGroupingKey") == failing {
			writeJSON(w, 500, `{"header":{"resultCode":-9999,"resultMessage":"System error","isSuccessful":false}}`)
			return
		}
		httputil.NewSingleHostReverseProxy(mustURL(t, f.URL())).ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	c := newTestClient(t, front.URL)
	c.now = clk.Now

	out, err := c.Resolve(t.Context(), queries(b, clk.Now(), providers.Outcome{Class: providers.Unknown}))
	var le *providers.LookupError
	var pe *providers.Error
	if !errors.As(err, &le) || !errors.As(err, &pe) || pe.HTTPStatus != 500 {
		t.Fatalf("Resolve error %v; want a *providers.LookupError wrapping the HTTP 500", err)
	}
	want := []providers.Class{providers.Accepted, providers.Unknown, providers.Accepted}
	if d := cmp.Diff(want, classes(out)); d != "" {
		t.Errorf("classes (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]bool{false, false, false}, le.NotMade); d != "" {
		t.Errorf("not made (-want +got):\n%s", d)
	}
	if n := lists.Load(); n != 3 {
		t.Errorf("%d list requests, want 3: one per grouping key, the failed one too", n)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestResolveNotFoundAfterOption checks that not_found_after replaces the
// default: a listing without the message is unknown just before it and
// retryable from it on.
func TestResolveNotFoundAfterOption(t *testing.T) {
	t.Parallel()
	clk := providertest.NewClock(daytime)
	f := nhnfake.New(t, nhnfake.WithClock(clk.Now))
	spec := testSpec(f.URL())
	spec.DecodeOptions = yamlOptions("app_key: " + testAppKey + "\nnot_found_after: 5s\n")
	p, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := p.(*Client)
	c.now = clk.Now
	b := providertest.Batch(alimTalkJob(1), 1)
	f.Next(providertest.Answer{HangUntaken: true})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	_, err = c.Send(ctx, b)
	cancel()
	last := providers.OutcomeOf(err)
	if last.Class != providers.Unknown {
		t.Fatalf("Send: %+v, want unknown", last)
	}
	sentAt := clk.Now()
	for _, tc := range []struct {
		wait time.Duration // since the previous step
		want providers.Class
	}{
		{4 * time.Second, providers.Unknown},
		{time.Second, providers.Retryable},
	} {
		clk.Advance(tc.wait)
		out, err := c.Resolve(t.Context(), queries(b, sentAt, last))
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if out[0].Class != tc.want {
			t.Errorf("%s after the send with not_found_after 5s: %s (%s), want %s", clk.Now().Sub(sentAt), out[0].Class, out[0].Message, tc.want)
		}
	}
}

// TestWindowAfter checks that a not_found_after longer than the default
// stretches the listing's window by as much.
func TestWindowAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		notFoundAfter, want time.Duration
	}{
		{5 * time.Second, lookupAfter},
		{DefaultNotFoundAfter, lookupAfter},
		{30 * time.Minute, lookupAfter + 28*time.Minute},
	} {
		c := &Client{notFoundAfter: tc.notFoundAfter}
		if got := c.windowAfter(); got != tc.want {
			t.Errorf("not_found_after %s: window reaches %s past the send, want %s", tc.notFoundAfter, got, tc.want)
		}
	}
}
