package naver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// lookupSetup is a fake and a client sharing a clock set to testNow.
func lookupSetup(t *testing.T) (*naverfake.Fake, *Client, *providertest.Clock) {
	t.Helper()
	clock := providertest.NewClock(testNow)
	f := naverfake.New(t, naverfake.WithClock(clock.Now))
	c := newTestClient(t, f.URL(), nil)
	c.Now = clock.Now
	return f, c, clock
}

// sendLost sends b with answer a, which loses the answer, and returns the
// unknown outcome.
func sendLost(t *testing.T, f *naverfake.Fake, c *Client, b *providers.Batch, a providertest.Answer) providers.Outcome {
	t.Helper()
	f.Next(a)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Send(ctx, b)
	o := providers.OutcomeOf(err)
	if o.Class != providers.Unknown {
		t.Fatalf("Send with %+v: %s (%v), want unknown", a, o.Class, err)
	}
	return o
}

func queriesFor(b *providers.Batch, sentAt time.Time, last func(i int) providers.Outcome) []providers.Query {
	qs := make([]providers.Query, len(b.Messages))
	for i, m := range b.Messages {
		qs[i] = providers.Query{Message: m, Key: b.Key, SentAt: sentAt, Last: last(i)}
	}
	return qs
}

// lookupView is what the tests compare of an outcome.
type lookupView struct {
	Class     providers.Class
	Reason    result.Reason
	Code      string
	MessageID string
}

func viewsOf(out []providers.Outcome) []lookupView {
	v := make([]lookupView, len(out))
	for i, o := range out {
		v[i] = lookupView{o.Class, o.EffectiveReason(), o.Code, o.MessageID}
	}
	return v
}

func TestResolveByRequestID(t *testing.T) {
	t.Parallel()
	f, c, clock := lookupSetup(t)
	b := providertest.Batch(testJob(3), 3)
	f.Next(providertest.Answer{Codes: map[int]string{1: "3005", 2: "B001"}})
	sent, err := c.Send(t.Context(), b)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	clock.Set(testNow.Add(3 * time.Minute))
	want := []lookupView{
		{providers.Accepted, result.ReasonOK, "A000", "MSG-1-0"},
		{providers.Unknown, result.ReasonOutcomeUnknown, "3005", "MSG-1-1"},
		{providers.Retryable, result.ReasonProviderUnavailable, "B001", "MSG-1-2"},
	}

	for _, tc := range []struct {
		name string
		last func(i int) providers.Outcome
	}{
		{"by message id", func(i int) providers.Outcome { return sent[i] }},
		{"by to and content", func(int) providers.Outcome { return providers.Outcome{Class: providers.Unknown, RequestID: "RQ-1"} }},
	} {
		before := f.Lookups()
		out, err := c.Resolve(t.Context(), queriesFor(b, testNow, tc.last))
		if err != nil {
			t.Fatalf("%s: Resolve: %v", tc.name, err)
		}
		if diff := cmp.Diff(want, viewsOf(out)); diff != "" {
			t.Errorf("%s: outcomes (-want +got):\n%s", tc.name, diff)
		}
		if out[0].RequestID != "RQ-1" || out[0].CodeName != "success" {
			t.Errorf("%s: accepted outcome %+v, want request id RQ-1 and code name success", tc.name, out[0])
		}
		if n := f.Lookups() - before; n != 1 {
			t.Errorf("%s: %d query requests for one requestId, want 1", tc.name, n)
		}
		want := url.Values{"requestId": {"RQ-1"}, "pageIndex": {"0"}, "pageSize": {"100"}}
		if diff := cmp.Diff(want, f.LastLookup()); diff != "" {
			t.Errorf("%s: query parameters (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestResolveByRequestIDNotListed(t *testing.T) {
	t.Parallel()
	f, c, clock := lookupSetup(t)
	b := providertest.Batch(testJob(1), 1)
	clock.Set(testNow.Add(3 * time.Minute))
	for _, tc := range []struct {
		name string
		last providers.Outcome
		want providers.Class
	}{
		// NAVER answered the message in the request: a missing entry is
		// not proof that it was never taken.
		{"NAVER answered the message", providers.Outcome{Class: providers.Unknown, RequestID: "RQ-99", MessageID: "MSG-99-0", Code: "3005"}, providers.Unknown},
		{"only the request id known", providers.Outcome{Class: providers.Unknown, RequestID: "RQ-99"}, providers.Retryable},
	} {
		out, err := c.Resolve(t.Context(), queriesFor(b, testNow, func(int) providers.Outcome { return tc.last }))
		if err != nil {
			t.Fatalf("%s: Resolve: %v", tc.name, err)
		}
		if out[0].Class != tc.want {
			t.Errorf("%s: %s (%+v), want %s", tc.name, out[0].Class, out[0], tc.want)
		}
	}
	if f.Lookups() != 2 {
		t.Errorf("%d query requests, want 2", f.Lookups())
	}
}

func TestResolveWindowPages(t *testing.T) {
	t.Parallel()
	f, c, _ := lookupSetup(t)
	c.lookupPageSize = 2
	b := providertest.Batch(testJob(5), 5)
	lost := sendLost(t, f, c, b, providertest.Answer{Hang: true})
	out, err := c.Resolve(t.Context(), queriesFor(b, testNow, func(int) providers.Outcome { return lost }))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	var want []lookupView
	for i := range 5 {
		want = append(want, lookupView{providers.Accepted, result.ReasonOK, "A000", fmt.Sprintf("MSG-1-%d", i)})
	}
	if diff := cmp.Diff(want, viewsOf(out)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if n := f.Lookups(); n != 3 {
		t.Errorf("%d query requests for 5 messages at 2 a page, want 3 (one per page)", n)
	}
	// testNow is 10:00 UTC, 19:00 KST: the window is SentAt-2m..now.
	wantQuery := url.Values{
		"plusFriendId": {"@talkrelay"}, "templateCode": {"ORDER_SHIPPED"},
		"requestStartTime": {"2026-11-30 18:58:00"}, "requestEndTime": {"2026-11-30 19:00:00"},
		"pageIndex": {"2"}, "pageSize": {"2"},
	}
	if diff := cmp.Diff(wantQuery, f.LastLookup()); diff != "" {
		t.Errorf("last query parameters (-want +got):\n%s", diff)
	}
}

// TestResolveWindowFallsBackToRecipients: when the window holds more of
// the channel's traffic than a page per recipient, the lookup asks per
// recipient ("to") instead of reading every page.
func TestResolveWindowFallsBackToRecipients(t *testing.T) {
	t.Parallel()
	f, c, _ := lookupSetup(t)
	c.lookupPageSize = 2
	if _, err := c.Send(t.Context(), providertest.Batch(testJob(6), 6)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	j := testJob(2)
	for i := range j.Recipients {
		j.Recipients[i].Phone = fmt.Sprintf("010-5555-%04d", i)
	}
	b := providertest.Batch(j, 2)
	lost := sendLost(t, f, c, b, providertest.Answer{Hang: true})
	out, err := c.Resolve(t.Context(), queriesFor(b, testNow, func(int) providers.Outcome { return lost }))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := []lookupView{
		{providers.Accepted, result.ReasonOK, "A000", "MSG-2-0"},
		{providers.Accepted, result.ReasonOK, "A000", "MSG-2-1"},
	}
	if diff := cmp.Diff(want, viewsOf(out)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	// Two window pages (one per recipient), then one per recipient.
	if n := f.Lookups(); n != 4 {
		t.Errorf("%d query requests, want 4", n)
	}
	if got := f.LastLookup().Get("to"); got != "01055550001" {
		t.Errorf("last query to = %q, want the second recipient", got)
	}
}

func TestResolveNotListed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		sentAt      time.Duration // after testNow; -1 for no SentAt
		now         time.Duration // after testNow
		want        providers.Class
		wantLookups int
	}{
		{"right after the send", 0, 30 * time.Second, providers.Unknown, 1},
		{"just before DefaultNotFoundAfter", 0, DefaultNotFoundAfter - time.Second, providers.Unknown, 1},
		{"at DefaultNotFoundAfter", 0, DefaultNotFoundAfter, providers.Retryable, 1},
		{"send time unknown", -1, time.Hour, providers.Unknown, 1},
		{"send time in the future (clock trouble)", time.Hour, 0, providers.Unknown, 1},
		{"beyond the 30-day history", 0, 30 * 24 * time.Hour, providers.Unknown, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, c, clock := lookupSetup(t)
			b := providertest.Batch(testJob(1), 1)
			lost := sendLost(t, f, c, b, providertest.Answer{HangUntaken: true})
			var sentAt time.Time
			if tc.sentAt >= 0 {
				sentAt = testNow.Add(tc.sentAt)
			}
			clock.Set(testNow.Add(tc.now))
			out, err := c.Resolve(t.Context(), queriesFor(b, sentAt, func(int) providers.Outcome { return lost }))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if out[0].Class != tc.want {
				t.Errorf("%s (%+v), want %s", out[0].Class, out[0], tc.want)
			}
			if out[0].Class == providers.Retryable && out[0].Reason != result.ReasonProviderUnavailable {
				t.Errorf("reason %q, want provider_unavailable", out[0].Reason)
			}
			if f.Lookups() != tc.wantLookups {
				t.Errorf("%d query requests, want %d", f.Lookups(), tc.wantLookups)
			}
			if tc.sentAt < 0 {
				q := f.LastLookup()
				if q.Get("requestStartTime") != "2026-11-29 20:00:00" || q.Get("requestEndTime") != "2026-11-30 20:00:00" || q.Get("to") != "01012340000" {
					t.Errorf("query without SentAt: %v, want the 24 hours before now (KST) for the recipient", q)
				}
			}
		})
	}
}

// TestResolveEarlierAttempts: a window may list an earlier attempt of the
// same message. Its B-code entry must not hide the attempt in question.
func TestResolveEarlierAttempts(t *testing.T) {
	t.Parallel()
	f, c, clock := lookupSetup(t)
	j := testJob(1)
	b := providertest.Batch(j, 1)
	f.FailPhone(j.Recipients[0].Phone, "B001")
	if out, err := c.Send(t.Context(), b); err != nil || out[0].Class != providers.Retryable {
		t.Fatalf("first attempt: %+v, %v; want retryable B001", out, err)
	}
	f.FailPhone(j.Recipients[0].Phone, "")
	secondAt := testNow.Add(30 * time.Second)
	clock.Set(secondAt)
	lost := sendLost(t, f, c, b, providertest.Answer{HangUntaken: true})
	resolve := func(now time.Time) providers.Outcome {
		t.Helper()
		clock.Set(now)
		out, err := c.Resolve(t.Context(), queriesFor(b, secondAt, func(int) providers.Outcome { return lost }))
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		return out[0]
	}
	if o := resolve(secondAt.Add(30 * time.Second)); o.Class != providers.Unknown || o.Code != "B001" {
		t.Errorf("soon after the second attempt: %+v, want unknown (the B001 entry may be the first attempt's)", o)
	}
	if o := resolve(secondAt.Add(DefaultNotFoundAfter)); o.Class != providers.Retryable || o.Code != "B001" {
		t.Errorf("DefaultNotFoundAfter after the second attempt: %+v, want retryable B001", o)
	}

	thirdAt := secondAt.Add(10 * time.Second)
	clock.Set(thirdAt)
	lost = sendLost(t, f, c, b, providertest.Answer{Hang: true})
	clock.Set(thirdAt.Add(DefaultNotFoundAfter))
	out, err := c.Resolve(t.Context(), queriesFor(b, thirdAt, func(int) providers.Outcome { return lost }))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if o := out[0]; o.Class != providers.Accepted || o.MessageID != "MSG-3-0" {
		t.Errorf("with a taken third attempt: %+v, want accepted MSG-3-0", o)
	}
}

// TestResolveDuplicateRecipients: two queries for the same phone and text
// need two listed entries to both be accepted.
func TestResolveDuplicateRecipients(t *testing.T) {
	t.Parallel()
	f, c, clock := lookupSetup(t)
	j := testJob(2)
	j.Recipients[1] = j.Recipients[0]
	b := providertest.Batch(j, 2)
	f.Next(providertest.Answer{Codes: map[int]string{1: "B002"}})
	if _, err := c.Send(t.Context(), b); err != nil {
		t.Fatalf("Send: %v", err)
	}
	clock.Set(testNow.Add(DefaultNotFoundAfter))
	out, err := c.Resolve(t.Context(), queriesFor(b, testNow, func(int) providers.Outcome { return providers.Outcome{Class: providers.Unknown} }))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := []lookupView{
		{providers.Accepted, result.ReasonOK, "A000", "MSG-1-0"},
		{providers.Retryable, result.ReasonProviderUnavailable, "B002", "MSG-1-1"},
	}
	if diff := cmp.Diff(want, viewsOf(out)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

func TestResolveLookupFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		inject func(f *naverfake.Fake)
		status int // HTTPStatus of the *providers.Error; 0: not one
	}{
		{"500", func(f *naverfake.Fake) { f.Next(providertest.Answer{LookupStatus: 500}) }, 500},
		{"503", func(f *naverfake.Fake) { f.Next(providertest.Answer{LookupStatus: 503}) }, 503},
		{"429", func(f *naverfake.Fake) { f.Next(providertest.Answer{LookupStatus: 429}) }, 429},
		{"401", func(f *naverfake.Fake) { f.Next(providertest.Answer{LookupStatus: 401}) }, 401},
		{"404 with a gateway body is not 'nothing matched'", func(f *naverfake.Fake) {
			f.NextLookupRaw(404, `{"error":{"errorCode":"300","message":"Not Found Exception"}}`)
		}, 404},
		{"200 without messages", func(f *naverfake.Fake) { f.NextLookupRaw(200, `{"statusCode":"202","statusName":"success"}`) }, 0},
		{"200 without hasMore", func(f *naverfake.Fake) { f.NextLookupRaw(200, `{"messages":[]}`) }, 0},
		{"200 itemCount mismatch", func(f *naverfake.Fake) { f.NextLookupRaw(200, `{"messages":[],"hasMore":false,"itemCount":3}`) }, 0},
		{"200 entry without to", func(f *naverfake.Fake) {
			f.NextLookupRaw(200, `{"messages":[{"recipientNo":"01012340000","content":"x"}],"hasMore":false}`)
		}, 0},
		{"200 html", func(f *naverfake.Fake) { f.NextLookupRaw(200, `<html>gateway</html>`) }, 0},
		{"200 empty", func(f *naverfake.Fake) { f.NextLookupRaw(200, ``) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, c, clock := lookupSetup(t)
			b := providertest.Batch(testJob(1), 1)
			lost := sendLost(t, f, c, b, providertest.Answer{HangUntaken: true})
			tc.inject(f)
			clock.Set(testNow.Add(time.Hour))
			out, err := c.Resolve(t.Context(), queriesFor(b, testNow, func(int) providers.Outcome { return lost }))
			if err == nil {
				t.Fatalf("Resolve = %+v, want an error", out)
			}
			var pe *providers.Error
			switch {
			case tc.status == 0 && errors.As(err, &pe):
				t.Errorf("error %v is a *providers.Error, want a parse error", err)
			case tc.status != 0 && (!errors.As(err, &pe) || pe.HTTPStatus != tc.status):
				t.Errorf("error %v, want a *providers.Error with HTTP %d", err, tc.status)
			}
		})
	}

	t.Run("transport", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, "http://127.0.0.1:1", nil)
		b := providertest.Batch(testJob(1), 1)
		_, err := c.Resolve(t.Context(), queriesFor(b, time.Now().Add(-time.Hour), func(int) providers.Outcome { return providers.Outcome{Class: providers.Unknown} }))
		if err == nil {
			t.Fatal("Resolve against a closed port succeeded")
		}
	})
}

func TestRecordOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		m    queryMessage
		want lookupView
	}{
		{"accepted", queryMessage{RequestStatusCode: "A000", RequestStatusName: "success", MessageID: "M"},
			lookupView{providers.Accepted, result.ReasonOK, "A000", "M"}},
		{"ack timeout", queryMessage{RequestStatusCode: "3005", RequestStatusName: "fail"},
			lookupView{providers.Unknown, result.ReasonOutcomeUnknown, "3005", ""}},
		{"ack timeout, since delivered", queryMessage{RequestStatusCode: "3005", MessageStatusCode: "0000"},
			lookupView{providers.Accepted, result.ReasonOK, "0000", ""}},
		{"no request status", queryMessage{MessageStatusName: "processing"},
			lookupView{providers.Unknown, result.ReasonOutcomeUnknown, "", ""}},
		{"permanent", queryMessage{RequestStatusCode: "3008"},
			lookupView{providers.Permanent, result.ReasonInvalidRecipient, "3008", ""}},
		{"system error with failover", queryMessage{RequestStatusCode: "9999", UseSmsFailover: true},
			lookupView{providers.Unknown, result.ReasonOutcomeUnknown, "9999", ""}},
		{"relay failure", queryMessage{RequestStatusCode: "B004"},
			lookupView{providers.Retryable, result.ReasonRateLimited, "B004", ""}},
	} {
		o := recordOutcome(&tc.m, "")
		if got := (lookupView{o.Class, o.EffectiveReason(), o.Code, o.MessageID}); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestResolveSkipsUnanswerable: queries no lookup can answer get Unknown
// without a request, and do not stop the others.
func TestResolveSkipsUnanswerable(t *testing.T) {
	t.Parallel()
	f, c, _ := lookupSetup(t)
	j := testJob(1)
	q := providers.Query{Message: providers.Message{Job: j, Index: 0, Recipient: &j.Recipients[0], Attempt: 1},
		Key: providers.KeyOf(j, &j.Recipients[0], ""), SentAt: testNow}
	noSender := q
	noSender.Key.Sender = ""
	noRecipient := q
	noRecipient.Message.Recipient = nil
	out, err := c.Resolve(t.Context(), []providers.Query{noSender, noRecipient})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	for i, o := range out {
		if o.Class != providers.Unknown {
			t.Errorf("query %d: %s, want unknown", i, o.Class)
		}
	}
	if f.Lookups() != 0 {
		t.Errorf("%d query requests, want none", f.Lookups())
	}
}

// TestResolveNotFoundAfterOption checks that not_found_after replaces the
// default: a lookup that finds nothing is unknown just before it and
// retryable from it on.
func TestResolveNotFoundAfterOption(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	if err := yaml.Unmarshal([]byte("service_id: "+testServiceID+"\nnot_found_after: 5s\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	clock := providertest.NewClock(testNow)
	f := naverfake.New(t, naverfake.WithClock(clock.Now))
	c, err := NewClient(cfg, f.URL(), testAccessKey, testSecretKey, nil)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	c.Now = clock.Now
	b := providertest.Batch(testJob(1), 1)
	lost := sendLost(t, f, c, b, providertest.Answer{HangUntaken: true})
	for _, tc := range []struct {
		since time.Duration
		want  providers.Class
	}{
		{4 * time.Second, providers.Unknown},
		{5 * time.Second, providers.Retryable},
	} {
		clock.Set(testNow.Add(tc.since))
		out, err := c.Resolve(t.Context(), queriesFor(b, testNow, func(int) providers.Outcome { return lost }))
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if out[0].Class != tc.want {
			t.Errorf("%s after the send with not_found_after 5s: %s (%s), want %s", tc.since, out[0].Class, out[0].Message, tc.want)
		}
	}
}

// TestWindowAfter checks that a not_found_after longer than the default
// stretches the request query's window by as much, so that a message
// NAVER takes that late is still in the window that would prove it
// absent.
func TestWindowAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		notFoundAfter, want time.Duration
	}{
		{5 * time.Second, lookupAfter},
		{DefaultNotFoundAfter, lookupAfter},
		{30 * time.Minute, lookupAfter + 28*time.Minute},
	} {
		c := newTestClient(t, "http://naver.invalid", func(c *Config) { c.NotFoundAfter = tc.notFoundAfter })
		if got := c.windowAfter(); got != tc.want {
			t.Errorf("not_found_after %s: window reaches %s past the send, want %s", tc.notFoundAfter, got, tc.want)
		}
	}
}
