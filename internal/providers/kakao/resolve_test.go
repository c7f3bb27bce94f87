package kakao

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// The resolver suite dates sends with the real time, so the fake and the
// client read the real clock.
func TestConformanceResolverAlimTalk(t *testing.T) {
	t.Parallel()
	providertest.RunResolver(t, suiteWithClock(alimTalkJob, realClock))
}

func TestConformanceResolverFriendTalk(t *testing.T) {
	t.Parallel()
	providertest.RunResolver(t, suiteWithClock(friendTalkJob, realClock))
}

// sendWith sends recipient i of j with answer a (after a short timeout for
// the answers that hang) and returns its outcome, unknown or not.
func sendWith(t *testing.T, f *fake, c *Client, j *job.Job, i int, a providertest.Answer) providers.Outcome {
	t.Helper()
	f.Next(a)
	b := providertest.Batch(j, len(j.Recipients))
	b.Messages = b.Messages[i : i+1]
	timeout := 10 * time.Second
	if a.Hang || a.HangUntaken {
		timeout = 300 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	out, err := c.Send(ctx, b)
	if err != nil {
		return providers.OutcomeOf(err)
	}
	return out[0]
}

// query asks about recipient i of j, last answered last, sent at sentAt.
func query(j *job.Job, i int, last providers.Outcome, sentAt time.Time) providers.Query {
	m := providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1}
	return providers.Query{Message: m, Key: providers.KeyOf(j, m.Recipient, ""), SentAt: sentAt, Last: last}
}

func resolve(t *testing.T, c *Client, qs ...providers.Query) []providers.Outcome {
	t.Helper()
	out, err := c.Resolve(t.Context(), qs)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if len(out) != len(qs) {
		t.Fatalf("%d outcomes for %d queries", len(out), len(qs))
	}
	return out
}

// others records n messages of other senders of the account, taken now.
func others(f *fake, n int) {
	for i := range n {
		f.Record(kakaofake.Message{CID: fmt.Sprintf("other-%04d", i), MessageType: "AT", PhoneNumber: "01000000000"})
	}
}

// A code 100 answer carries the uid; the lookup reads the detail API, not
// the list.
func TestResolveByUID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status string // set on the message after the send; "" leaves API_200
		class  providers.Class
		reason result.Reason
	}{
		{"", providers.Accepted, result.ReasonOK},
		{"API_100", providers.Unknown, result.ReasonOutcomeUnknown},
		{"API_500", providers.Unknown, result.ReasonOutcomeUnknown},
		{"API_510", providers.Permanent, result.ReasonProviderRejected},
		{"API_520", providers.Retryable, result.ReasonProviderUnavailable},
		{"API_410", providers.Permanent, result.ReasonProviderRejected},
		{"API_999", providers.Unknown, result.ReasonOutcomeUnknown},
	} {
		t.Run("status "+tc.status, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, newClock())
			c := newTestClient(t, f, nil)
			j := alimTalkJob(1)
			last := sendWith(t, f, c, j, 0, providertest.Answer{Codes: map[int]string{0: "100"}})
			if last.Class != providers.Unknown || last.MessageID == "" {
				t.Fatalf("code 100 answer: %+v, want unknown with a uid", last)
			}
			if tc.status != "" {
				f.SetStatus(last.MessageID, tc.status)
			}
			o := resolve(t, c, query(j, 0, last, f.clock.Now()))[0]
			if o.Class != tc.class || o.EffectiveReason() != tc.reason {
				t.Errorf("outcome %+v, want %s (%s)", o, tc.class, tc.reason)
			}
			if o.MessageID != last.MessageID || o.RequestID != CID(j.ID, 0) || o.CodeName == "" {
				t.Errorf("outcome %+v: want uid %s, cid %s and a code name", o, last.MessageID, CID(j.ID, 0))
			}
			if n := f.Lookups(); n != 1 {
				t.Errorf("%d query requests, want 1 detail", n)
			}
			if n := f.Accepted(CID(j.ID, 0)); n != 1 {
				t.Errorf("fake counts %d acceptances of the code 100 message, want 1", n)
			}
		})
	}
}

func TestResolveByUIDEdges(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	j := alimTalkJob(3)
	now := f.clock.Now()
	// A uid with the base64 characters that need care in a path.
	odd := "261110140000000ab+cd/ef=xyz012"
	f.Record(kakaofake.Message{UID: odd, CID: CID(j.ID, 0), MessageType: "AT"})
	// A uid of somebody else's message.
	foreign := f.Record(kakaofake.Message{CID: "not-ours"})
	out := resolve(t, c,
		query(j, 0, providers.Outcome{Class: providers.Unknown, MessageID: odd}, now),
		query(j, 1, providers.Outcome{Class: providers.Unknown, MessageID: "261110140000000nosuchuid000000"}, now.Add(-time.Hour)),
		query(j, 2, providers.Outcome{Class: providers.Unknown, MessageID: foreign}, now),
	)
	if out[0].Class != providers.Accepted || out[0].MessageID != odd {
		t.Errorf("uid with + and /: %+v, want accepted", out[0])
	}
	for i, o := range out[1:] {
		if o.Class != providers.Unknown {
			t.Errorf("query %d: %+v, want unknown (uid not known, or not of our cid)", i+1, o)
		}
	}
}

// Messages without a uid are found by cid in the list, page after page;
// one scan answers every query of the same day.
func TestResolveSearchPages(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	c.searchSize = 10
	others(f, 17)
	j := alimTalkJob(3)
	last := sendWith(t, f, c, j, 0, providertest.Answer{Hang: true})
	if last.Class != providers.Unknown || last.MessageID != "" {
		t.Fatalf("hung send: %+v, want unknown without uid", last)
	}
	others(f, 5)
	sendWith(t, f, c, j, 1, providertest.Answer{Hang: true})
	untaken := sendWith(t, f, c, j, 2, providertest.Answer{HangUntaken: true})
	// 17 + 1 + 5 + 1 = 24 listed: 3 pages.
	now := f.clock.Now()
	out := resolve(t, c, query(j, 0, last, now), query(j, 1, last, now), query(j, 2, untaken, now))
	for i, want := range []providers.Class{providers.Accepted, providers.Accepted, providers.Unknown} {
		if out[i].Class != want {
			t.Errorf("query %d: %+v, want %s", i, out[i], want)
		}
	}
	if out[0].MessageID == "" || out[0].RequestID != CID(j.ID, 0) || out[0].Code != "API_200" {
		t.Errorf("found message: %+v, want its uid, cid and status", out[0])
	}
	if n := f.Lookups(); n != 3 {
		t.Errorf("%d search requests, want 3 pages for all three queries", n)
	}

	// Well after the send, the complete list proves the untaken one never
	// was; the taken ones stop the scan where they are found.
	f.clock.Advance(DefaultNotFoundAfter)
	out = resolve(t, c, query(j, 2, untaken, now))
	if o := out[0]; o.Class != providers.Retryable || o.EffectiveReason() != result.ReasonProviderUnavailable {
		t.Errorf("untaken, %s after: %+v, want retryable provider_unavailable", DefaultNotFoundAfter, o)
	}
	before := f.Lookups()
	out = resolve(t, c, query(j, 0, last, now))
	if out[0].Class != providers.Accepted || f.Lookups()-before != 2 {
		t.Errorf("taken: %+v after %d pages, want accepted after 2", out[0], f.Lookups()-before)
	}
}

// A scan that stops at the page cap proves nothing about what it did not
// reach.
func TestResolveSearchPageCap(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	c.searchSize, c.searchPages = 10, 2
	j := alimTalkJob(2)
	others(f, 25)
	taken := sendWith(t, f, c, j, 0, providertest.Answer{Hang: true})
	untaken := sendWith(t, f, c, j, 1, providertest.Answer{HangUntaken: true})
	sentAt := f.clock.Now().Add(-time.Hour)
	out := resolve(t, c, query(j, 0, taken, sentAt), query(j, 1, untaken, sentAt))
	for i, o := range out {
		if o.Class != providers.Unknown {
			t.Errorf("query %d behind the page cap: %+v, want unknown", i, o)
		}
	}
	if n := f.Lookups(); n != 2 {
		t.Errorf("%d search requests, want the cap of 2", n)
	}
	c.searchPages = 3
	out = resolve(t, c, query(j, 0, taken, sentAt), query(j, 1, untaken, sentAt))
	if out[0].Class != providers.Accepted || out[1].Class != providers.Retryable {
		t.Errorf("within the cap: %s, %s; want accepted, retryable", out[0].Class, out[1].Class)
	}
}

// A message sent again after 520 keeps its cid: the list may hold several
// records of it.
func TestResolveSeveralRecordsOfOneCID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		statuses []string
		age      time.Duration
		want     providers.Class
	}{
		{"refused then accepted", []string{"API_520", "API_200"}, time.Minute, providers.Accepted},
		{"accepted then refused", []string{"API_200", "API_510"}, time.Hour, providers.Accepted},
		{"refused, recent", []string{"API_520"}, time.Minute, providers.Unknown},
		{"refused, well after", []string{"API_520"}, time.Hour, providers.Retryable},
		{"failed, well after", []string{"API_520", "API_510"}, time.Hour, providers.Permanent},
		{"failed, recent", []string{"API_510"}, time.Minute, providers.Unknown},
		{"processing and refused", []string{"API_520", "API_100"}, time.Hour, providers.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, newClock())
			c := newTestClient(t, f, nil)
			j := alimTalkJob(1)
			for _, s := range tc.statuses {
				f.Record(kakaofake.Message{CID: CID(j.ID, 0), Status: s})
			}
			o := resolve(t, c, query(j, 0, providers.Outcome{Class: providers.Unknown}, f.clock.Now().Add(-tc.age)))[0]
			if o.Class != tc.want {
				t.Errorf("%+v, want %s", o, tc.want)
			}
		})
	}
}

func TestResolveUnknownSendTime(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	j := alimTalkJob(2)
	// Taken yesterday: found in the two days searched.
	f.Record(kakaofake.Message{CID: CID(j.ID, 0), At: f.clock.Now().Add(-20 * time.Hour)})
	out := resolve(t, c, query(j, 0, providers.Outcome{Class: providers.Unknown}, time.Time{}),
		query(j, 1, providers.Outcome{Class: providers.Unknown}, time.Time{}))
	if out[0].Class != providers.Accepted {
		t.Errorf("taken yesterday: %+v, want accepted", out[0])
	}
	if out[1].Class != providers.Unknown {
		t.Errorf("never taken, send time unknown: %+v, want unknown (no time to measure not_found_after from)", out[1])
	}
}

func TestResolveRenewsTokenAndFails(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	j := alimTalkJob(1)
	last := sendWith(t, f, c, j, 0, providertest.Answer{Codes: map[int]string{0: "500"}})
	if last.MessageID == "" {
		t.Fatalf("code 500 answer %+v without uid", last)
	}
	f.Revoke()
	if o := resolve(t, c, query(j, 0, last, f.clock.Now()))[0]; o.Class != providers.Accepted {
		t.Errorf("after a token renewal: %+v, want accepted", o)
	}
	if n := f.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2 (one renewal on 401)", n)
	}

	for _, status := range []int{401, 429, 500, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			for name, q := range map[string]providers.Query{
				"detail": query(j, 0, last, f.clock.Now()),
				"search": query(j, 0, providers.Outcome{Class: providers.Unknown}, f.clock.Now()),
			} {
				n := 1
				if status == 401 {
					n = 2 // renewed and refused again
				}
				for range n {
					f.Next(providertest.Answer{LookupStatus: status})
				}
				_, err := c.Resolve(t.Context(), []providers.Query{q})
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.HTTPStatus != status {
					t.Errorf("%s answered %d: Resolve error %v, want a *providers.Error with the status", name, status, err)
				}
			}
		})
	}
}

func TestSearchDates(t *testing.T) {
	t.Parallel()
	at := func(d, hm string) time.Time {
		t, err := time.ParseInLocation("2006-01-02 15:04", d+" "+hm, msgcheck.KST)
		if err != nil {
			panic(err)
		}
		return t
	}
	for _, tc := range []struct {
		name        string
		sent, now   time.Time
		start, end_ string
	}{
		{"afternoon", at("2026-11-10", "14:00"), at("2026-11-10", "14:05"), "2026-11-10", "2026-11-10"},
		{"before midnight", at("2026-11-10", "23:55"), at("2026-11-11", "09:00"), "2026-11-10", "2026-11-11"},
		{"before midnight, asked at once", at("2026-11-10", "23:55"), at("2026-11-10", "23:58"), "2026-11-10", "2026-11-10"},
		{"after midnight", at("2026-11-11", "00:05"), at("2026-11-11", "09:00"), "2026-11-10", "2026-11-11"},
		{"UTC send time", at("2026-11-10", "08:00").UTC(), at("2026-11-10", "09:00"), "2026-11-10", "2026-11-10"},
		{"unknown send time", time.Time{}, at("2026-11-10", "09:00"), "2026-11-09", "2026-11-10"},
		{"send time in the future", at("2026-11-11", "10:00"), at("2026-11-10", "09:00"), "2026-11-10", "2026-11-10"},
	} {
		start, end := searchDates(tc.sent, tc.now, searchMargin)
		if start != tc.start || end != tc.end_ {
			t.Errorf("%s: %s..%s, want %s..%s", tc.name, start, end, tc.start, tc.end_)
		}
	}
}

func TestParseSearchPage(t *testing.T) {
	t.Parallel()
	// The API reference's example.
	documented := `{"status":"200","code":"200","count":4,"next":false,"code_detail":{"detail_code":"NRM00000","detail_message":"성공"},
	"results":[{"uid":"221018080314511j7usTgzgQDOXvIk","reg_date":"2022-10-18T08:03:15","status_code":"API_200","kko_status_code":"0000","cid":"11329b64174a4738b049e2a74e93c5c1"}]}`
	p, err := parseSearchPage([]byte(documented))
	if err != nil {
		t.Fatal(err)
	}
	want := record{UID: "221018080314511j7usTgzgQDOXvIk", CID: "11329b64174a4738b049e2a74e93c5c1", Status: "API_200", KkoStatus: "0000"}
	if p.Next || !p.NextKnown || len(p.Results) != 1 || p.Results[0] != want {
		t.Errorf("documented example: %+v", p)
	}
	if o := p.Results[0].outcome(); o.Class != providers.Accepted {
		t.Errorf("documented example outcome %+v", o)
	}
	for _, tc := range []struct {
		name, body      string
		fails           bool
		next, nextKnown bool
		results         int
	}{
		{name: "next true, last_uid", body: `{"code":"200","next":true,"last_uid":"u","results":[{"uid":"u","cid":"c"}]}`, next: true, nextKnown: true, results: 1},
		{name: "next as Y", body: `{"code":"200","next":"Y","results":[]}`, next: true, nextKnown: true},
		{name: "no next", body: `{"code":"200","results":[{"uid":"u","cid":"c"}]}`, results: 1},
		{name: "status only", body: `{"status":"200","results":[]}`, nextKnown: false},
		{name: "numeric code and cid", body: `{"code":200,"results":[{"uid":"u","cid":12345}]}`, results: 1},
		{name: "null cid", body: `{"code":"200","results":[{"uid":"u","cid":null}]}`, results: 1},
		{name: "no results", body: `{"code":"200"}`},
		{name: "code 400", body: `{"status":"400","code":"400","code_detail":{"detail_code":"ERR","detail_message":"권한 오류"}}`, fails: true},
		{name: "no code", body: `{"results":[]}`, fails: true},
		{name: "cid of another type", body: `{"code":"200","results":[{"uid":"u","cid":{"x":1}}]}`, fails: true},
		{name: "entry not an object", body: `{"code":"200","results":["u"]}`, fails: true},
		{name: "results not a list", body: `{"code":"200","results":{}}`, fails: true},
		{name: "next of another type", body: `{"code":"200","next":1,"results":[]}`, fails: true},
		{name: "html", body: `<html>`, fails: true},
	} {
		p, err := parseSearchPage([]byte(tc.body))
		if tc.fails {
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Errorf("%s: %+v, %v; want a *providers.Error", tc.name, p, err)
			}
			continue
		}
		if err != nil || p.Next != tc.next || p.NextKnown != tc.nextKnown || len(p.Results) != tc.results {
			t.Errorf("%s: %+v, %v", tc.name, p, err)
		}
	}
}

func TestParseDetail(t *testing.T) {
	t.Parallel()
	documented := `{"code":"200","code_detail":{"detail_code":"NRM00000","detail_message":"성공"},"result":{"uid":"221018080314511j7usTgzgQDOXvIk",
	"reg_date":"2022-10-18T08:03:15","message_type":"AT","status_code":"API_200","phone_number":"01000000000","template_code":"test_kep_template_005",
	"req_date":"2022-10-18T08:03:14","req_sms_yn":"N","kko_status_code":"0000","message":" 메시지","cid":"11329b64174a4738b049e2a74e93c5c1"}}`
	r, err := parseDetail([]byte(documented))
	want := record{UID: "221018080314511j7usTgzgQDOXvIk", CID: "11329b64174a4738b049e2a74e93c5c1", Status: "API_200", KkoStatus: "0000"}
	if err != nil || r != want {
		t.Errorf("documented example: %+v, %v", r, err)
	}
	if r, err := parseDetail([]byte(`{"code":"200","result":null}`)); err != nil || r != (record{}) {
		t.Errorf("null result: %+v, %v", r, err)
	}
	for _, body := range []string{`{"code":"410"}`, `{}`, `[]`, `{"code":"200","result":"x"}`, `{"code":"200","result":{"cid":[]}}`} {
		if _, err := parseDetail([]byte(body)); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
}

func TestStatusInfo(t *testing.T) {
	t.Parallel()
	for status, want := range map[string]providers.Class{
		"API_200": providers.Accepted, "200": providers.Accepted, " API_200 ": providers.Accepted,
		"API_100": providers.Unknown, "API_500": providers.Unknown, "API_520": providers.Retryable,
		"API_510": providers.Permanent, "API_400": providers.Permanent, "API_420": providers.Permanent,
		"API_3018": providers.Unknown, "": providers.Unknown, "api_200": providers.Unknown,
	} {
		if got := statusInfo(status); got.Class != want || got.Name == "" {
			t.Errorf("statusInfo(%q) = %+v, want %s", status, got, want)
		}
	}
}

// FuzzParseLookup feeds answers of the search and detail APIs to their
// parsers: they never panic, fail only with a *providers.Error, and every
// record they return has an outcome of a defined class.
func FuzzParseLookup(f *testing.F) {
	for _, s := range []string{
		`{"status":"200","code":"200","count":1,"next":false,"code_detail":{"detail_code":"NRM00000","detail_message":"성공"},"results":[{"uid":"221018080314511j7usTgzgQDOXvIk","reg_date":"2022-10-18T08:03:15","status_code":"API_200","kko_status_code":"0000","cid":"11329b64174a4738b049e2a74e93c5c1"}]}`,
		`{"code":"200","next":true,"last_uid":"u","results":[{"uid":"u","cid":1,"status_code":520}]}`,
		`{"code":"200","result":{"uid":"u","cid":"c","status_code":"API_100","error_message":"x"}}`,
		`{"code":"200","result":null}`,
		`{"code":"200","result":{"uid":"u","cid":"j~0","status_code":"API_510","req_sms_yn":"Y","sms_type":"LM","sms_status_code":"0"}}`,
		`{"code":"410","code_detail":{"detail_code":"ERR","detail_message":"not found"}}`,
		`{"code":"200","next":"Y","results":[null,{"cid":{}}]}`,
		``, `null`, `[]`, `<html>`,
	} {
		f.Add([]byte(s))
	}
	valid := func(c providers.Class) bool { return c >= providers.Accepted && c <= providers.Unknown }
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseSearchPage(data)
		if err != nil {
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("search: error %v is not a *providers.Error", err)
			}
		} else {
			for _, r := range p.Results {
				if o := r.outcome(); !valid(o.Class) || o.CodeName == "" {
					t.Fatalf("search record %+v: outcome %+v", r, o)
				}
			}
			if p.Next && !p.NextKnown {
				t.Fatalf("next without a next flag: %+v", p)
			}
		}
		r, err := parseDetail(data)
		if err != nil {
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("detail: error %v is not a *providers.Error", err)
			}
		} else if o := r.outcome(); !valid(o.Class) {
			t.Fatalf("detail record %+v: outcome %+v", r, o)
		} else if rep, ok := (&resultEntry{record: r}).reportOf("j", 0); ok {
			// The report of a detail looked up at the report horizon.
			providertest.KnownState(t, rep)
			if rep.FallbackType != "" && rep.FallbackType != "SMS" && rep.FallbackType != "LMS" {
				t.Fatalf("detail record %+v: fallback type %q", r, rep.FallbackType)
			}
		}
	})
}

// An entry without a cid might be ours: the list cannot prove a message
// was never taken.
func TestResolveEntryWithoutCID(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	j := alimTalkJob(1)
	f.Record(kakaofake.Message{MessageType: "AT"}) // no cid
	o := resolve(t, c, query(j, 0, providers.Outcome{Class: providers.Unknown}, f.clock.Now().Add(-time.Hour)))[0]
	if o.Class != providers.Unknown {
		t.Errorf("%+v, want unknown", o)
	}
}

// listServer serves a token and, for every search, the page answer(n)
// gives for the n-th search request (from 0).
func listServer(t *testing.T, answer func(n int, last string) string) (*Client, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == DefaultTokenPath {
			io.WriteString(w, `{"access_token":"t","expires_in":21600}`)
			return
		}
		var b searchRequest
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("search body: %v", err)
		}
		io.WriteString(w, answer(int(n.Add(1)-1), b.LastUID))
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(spec(t, srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	c.searchSize = 2
	return c, &n
}

func TestResolveSearchCursor(t *testing.T) {
	t.Parallel()
	j := alimTalkJob(1)
	q := query(j, 0, providers.Outcome{Class: providers.Unknown}, time.Now().Add(-time.Hour))
	for _, tc := range []struct {
		name   string
		answer func(n int, last string) string
		pages  int64
		want   providers.Class
	}{
		{"next page without a cursor", func(int, string) string {
			return `{"code":"200","next":true,"results":[]}`
		}, 1, providers.Unknown},
		{"the same cursor again", func(int, string) string {
			return `{"code":"200","next":true,"last_uid":"u1","results":[{"uid":"u0","cid":"a"},{"uid":"u1","cid":"b"}]}`
		}, 2, providers.Unknown},
		{"no next flag: full pages are followed by the last uid", func(n int, last string) string {
			if want := []string{"", "u1", "u3"}[n]; last != want {
				t.Errorf("page %d: last_uid %q, want %q", n, last, want)
			}
			if n < 2 {
				return fmt.Sprintf(`{"code":"200","results":[{"uid":"u%d","cid":"a"},{"uid":"u%d","cid":"b"}]}`, 2*n, 2*n+1)
			}
			return `{"code":"200","results":[{"uid":"u4","cid":"c"}]}`
		}, 3, providers.Retryable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, n := listServer(t, tc.answer)
			o := resolve(t, c, q)[0]
			if o.Class != tc.want || n.Load() != tc.pages {
				t.Errorf("%+v after %d pages, want %s after %d", o, n.Load(), tc.want, tc.pages)
			}
		})
	}
}

// TestResolveNotFoundAfterOption checks that not_found_after replaces the
// default: a complete scan without the cid is unknown just before it and
// retryable from it on.
func TestResolveNotFoundAfterOption(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, func(cfg *Config) { cfg.NotFoundAfter = 5 * time.Second })
	j := alimTalkJob(1)
	untaken := sendWith(t, f, c, j, 0, providertest.Answer{HangUntaken: true})
	if untaken.Class != providers.Unknown {
		t.Fatalf("send: %+v, want unknown", untaken)
	}
	sentAt := f.clock.Now()
	for _, tc := range []struct {
		wait time.Duration // since the previous step
		want providers.Class
	}{
		{4 * time.Second, providers.Unknown},
		{time.Second, providers.Retryable},
	} {
		f.clock.Advance(tc.wait)
		out := resolve(t, c, query(j, 0, untaken, sentAt))
		if out[0].Class != tc.want {
			t.Errorf("%s after the send with not_found_after 5s: %s (%s), want %s", f.clock.Now().Sub(sentAt), out[0].Class, out[0].Message, tc.want)
		}
	}
}

// TestSearchAfter checks that a not_found_after longer than the default
// stretches the searched dates forward by as much.
func TestSearchAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		notFoundAfter, want time.Duration
	}{
		{5 * time.Second, searchMargin},
		{DefaultNotFoundAfter, searchMargin},
		{30 * time.Minute, searchMargin + 28*time.Minute},
	} {
		c := &Client{cfg: Config{NotFoundAfter: tc.notFoundAfter}}
		if got := c.searchAfter(); got != tc.want {
			t.Errorf("not_found_after %s: search reaches %s past the send, want %s", tc.notFoundAfter, got, tc.want)
		}
	}
}

// A message sent before cids were decodable carries the hashed cid: a
// lookup by search or by uid still finds it as ours, so a message sent
// during an upgrade is never taken for absent and sent again.
func TestResolveFindsHashedCID(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	j := alimTalkJob(1)
	uid := f.Record(kakaofake.Message{CID: HashedCID(j.ID, 0), MessageType: "AT"})
	now := f.clock.Now()
	f.clock.Advance(DefaultNotFoundAfter)
	for name, last := range map[string]providers.Outcome{
		"search": {Class: providers.Unknown},
		"uid":    {Class: providers.Unknown, MessageID: uid},
	} {
		out := resolve(t, c, query(j, 0, last, now))
		if out[0].Class != providers.Accepted || out[0].MessageID != uid {
			t.Errorf("%s: %+v, want accepted with uid %s", name, out[0], uid)
		}
	}
}
