package nhn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// The credentials nhnfake accepts.
const (
	testAppKey = nhnfake.AppKey
	testSecret = nhnfake.SecretKey
)

// yamlOptions decodes src as the worker config does an account's options.
func yamlOptions(src string) func(any) error {
	return func(into any) error {
		d := yaml.NewDecoder(strings.NewReader(src))
		d.KnownFields(true)
		return d.Decode(into)
	}
}

func testSpec(baseURL string) providers.Spec {
	return providers.Spec{
		Account:       "nhn-main",
		BaseURL:       baseURL,
		Credentials:   map[string]string{SecretKeyCredential: testSecret},
		DecodeOptions: yamlOptions("app_key: " + testAppKey + "\n"),
	}
}

// daytime is a clock inside the hours Kakao allows ads (12:00 KST).
var daytime = time.Date(2026, 6, 20, 12, 0, 0, 0, time.FixedZone("KST", 9*3600))

func newTestClient(t *testing.T, baseURL string) *Client {
	t.Helper()
	p, err := New(testSpec(baseURL))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := p.(*Client)
	c.now = func() time.Time { return daytime }
	return c
}

func phone(i int) string { return fmt.Sprintf("010%08d", i) }

func alimTalkJob(n int) *job.Job {
	j := &job.Job{Version: 1, ID: "job-at-1", Account: "nhn-main", Kind: job.AlimTalk,
		Sender: "0123456789abcdef0123456789abcdef01234567", Template: "ORDER_RECEIVED"}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: phone(i),
			Content: fmt.Sprintf("홍길동님, 주문 %d번이 접수되었습니다.", i)})
	}
	return j
}

func friendTalkJob(n int) *job.Job {
	j := &job.Job{Version: 1, ID: "job-ft-1", Account: "nhn-main", Kind: job.FriendTalk, Sender: "@talkrelay"}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: phone(i), Content: "이번 주 새 소식을 알려 드립니다."})
	}
	return j
}

func suite(jobOf func(int) *job.Job) providertest.Suite {
	return providertest.Suite{
		NewFake: func(t *testing.T) providertest.Fake { return nhnfake.New(t) },
		NewProvider: func(t *testing.T, f providertest.Fake) providers.Provider {
			p, err := New(testSpec(f.URL()))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return p
		},
		Job:           jobOf,
		RetryableCode: "-9999",
		PermanentCode: "-2018",
		UnknownCode:   "-1005",
	}
}

func TestConformanceAlimTalk(t *testing.T) {
	t.Parallel()
	providertest.Run(t, suite(alimTalkJob))
}

func TestConformanceFriendTalk(t *testing.T) {
	t.Parallel()
	providertest.Run(t, suite(friendTalkJob))
}

func TestConformanceReports(t *testing.T) {
	t.Parallel()
	t.Run("alimtalk", func(t *testing.T) { providertest.RunReporter(t, suite(alimTalkJob)) })
	t.Run("friendtalk", func(t *testing.T) { providertest.RunReporter(t, suite(friendTalkJob)) })
}

func TestConformanceAlimTalkTemplateVariables(t *testing.T) {
	t.Parallel()
	providertest.Run(t, suite(func(n int) *job.Job {
		j := alimTalkJob(n)
		for i := range j.Recipients {
			j.Recipients[i].Content = ""
			j.Recipients[i].Variables = map[string]string{"name": "홍길동", "order": fmt.Sprint(i)}
		}
		return j
	}))
}

func TestPaths(t *testing.T) {
	t.Parallel()
	variables := alimTalkJob(1)
	variables.Recipients[0].Content, variables.Recipients[0].Variables = "", map[string]string{"name": "홍길동"}
	for _, tc := range []struct {
		name string
		job  *job.Job
		path string
	}{
		{"AlimTalk with variables", variables, "/alimtalk/v2.3/appkeys/" + testAppKey + "/messages"},
		{"AlimTalk with content", alimTalkJob(1), "/alimtalk/v2.3/appkeys/" + testAppKey + "/raw-messages"},
		{"FriendTalk", friendTalkJob(1), "/friendtalk/v1.5/appkeys/" + testAppKey + "/messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := nhnfake.New(t)
			c := newTestClient(t, f.URL())
			if _, err := c.Send(t.Context(), providertest.Batch(tc.job, 1)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if ps := f.Paths(); len(ps) != 1 || ps[0] != tc.path {
				t.Errorf("paths %q, want [%s]", ps, tc.path)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())
	j := alimTalkJob(3)
	b := providertest.Batch(j, 3)
	// The same attempt twice (a redelivery): NHN refuses the second with
	// -1005 and takes nothing, which must not read as success.
	if _, err := c.Send(t.Context(), b); err != nil {
		t.Fatalf("first Send: %v", err)
	}
	_, err := c.Send(t.Context(), b)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Class != providers.Unknown || pe.Code != "-1005" {
		t.Fatalf("repeated Send = %v, want an Unknown *providers.Error with code -1005", err)
	}
	if n := f.Accepted(RecipientGroupingKey(j.ID, 0)); n != 1 {
		t.Errorf("the fake took recipient 0 %d times, want 1", n)
	}
	other := providertest.Batch(j, 3)
	other.ID += "-attempt2"
	if _, err := c.Send(t.Context(), other); err != nil {
		t.Fatalf("other Send: %v", err)
	}
	keys := f.IdempotencyKeys()
	if keys[0] != keys[1] {
		t.Errorf("the same batch carried keys %q and %q", keys[0], keys[1])
	}
	if keys[2] == keys[0] {
		t.Errorf("a different batch carried the same key %q", keys[2])
	}
	if keys[0] != IdempotencyKey(b) {
		t.Errorf("key %q, want IdempotencyKey(b) = %q", keys[0], IdempotencyKey(b))
	}
	// Without a batch ID the key still follows the messages and attempts.
	noID := *b
	noID.ID = ""
	again := noID
	again.Messages = append([]providers.Message(nil), b.Messages...)
	if IdempotencyKey(&noID) != IdempotencyKey(&again) {
		t.Error("key of an ID-less batch is not stable")
	}
	again.Messages[0].Attempt++
	if IdempotencyKey(&noID) == IdempotencyKey(&again) {
		t.Error("key of an ID-less batch ignores the attempt")
	}
}

func TestDuplicateIdempotencyKeyIsUnknown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":-1005,"resultMessage":"The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute.","isSuccessful":false}}`)
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL)
	_, err := c.Send(t.Context(), providertest.Batch(alimTalkJob(2), 2))
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Class != providers.Unknown || pe.Code != "-1005" {
		t.Fatalf("err = %v, want an Unknown *providers.Error with code -1005", err)
	}
}

func TestPartialFailureInsideSuccessfulHeader(t *testing.T) {
	t.Parallel()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())
	f.Next(providertest.Answer{Codes: map[int]string{1: "-2018", 3: "-9999"}})
	out, err := c.Send(t.Context(), providertest.Batch(friendTalkJob(4), 4))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := []providers.Outcome{
		{Class: providers.Accepted, Code: "0", CodeName: "success", Message: "SUCCESS", MessageID: "1"},
		{Class: providers.Permanent, Code: "-2018", CodeName: "invalid button parameter", Message: "invalid button parameter", MessageID: "2"},
		{Class: providers.Accepted, Code: "0", CodeName: "success", Message: "SUCCESS", MessageID: "3"},
		{Class: providers.Retryable, Code: "-9999", CodeName: "system error", Message: "system error", MessageID: "4"},
	}
	for i := range out {
		if out[i].RequestID == "" {
			t.Errorf("outcome %d has no RequestID", i)
		}
		out[i].RequestID = ""
	}
	if d := cmp.Diff(want, out); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
}

func TestContextCanceledBeforeSend(t *testing.T) {
	t.Parallel()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Send(ctx, providertest.Batch(alimTalkJob(1), 1))
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Class != providers.Retryable || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Retryable wrapping context.Canceled", err)
	}
	if f.Sends() != 0 {
		t.Errorf("fake saw %d requests", f.Sends())
	}
}

func TestBrandMessageHeaderCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("X-Convert-To-Brand-Message"))
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"r1","sendResults":[{"recipientSeq":1,"recipientNo":"01000000000","resultCode":0,"resultMessage":"SUCCESS"}]}}`)
	}))
	t.Cleanup(srv.Close)
	spec := testSpec(srv.URL)
	spec.DecodeOptions = yamlOptions("app_key: " + testAppKey + "\nconvert_to_brand_message: false\n")
	p, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(t.Context(), providertest.Batch(friendTalkJob(1), 1)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(got) != 1 || got[0] != "" {
		t.Errorf("X-Convert-To-Brand-Message = %q, want none", got)
	}
}

// TestHTTPAnswers covers answers the conformance suite does not.
func TestHTTPAnswers(t *testing.T) {
	t.Parallel()
	authBody := `{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`
	for _, tc := range []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		class      providers.Class
		reason     result.Reason
		code       string
		retryAfter time.Duration
	}{
		{"401 with NHN body", 401, nil, authBody, providers.Permanent, result.ReasonAuth, "-1001", 0},
		{"403 plain", 403, nil, "forbidden", providers.Permanent, result.ReasonAuth, "", 0},
		{"200 invalid appkey", 200, nil, `{"header":{"resultCode":-1000,"resultMessage":"Invalid appKey.","isSuccessful":false}}`, providers.Permanent, result.ReasonAuth, "-1000", 0},
		{"429 HTTP-date Retry-After", 429, map[string]string{"Retry-After": daytime.Add(90 * time.Second).UTC().Format(http.TimeFormat)}, "", providers.Retryable, result.ReasonRateLimited, "", 90 * time.Second},
		{"429 bad Retry-After", 429, map[string]string{"Retry-After": "soon"}, "", providers.Retryable, result.ReasonRateLimited, "", 0},
		{"503 with Retry-After", 503, map[string]string{"Retry-After": "3"}, "", providers.Retryable, result.ReasonProviderUnavailable, "", 3 * time.Second},
		{"408", 408, nil, "", providers.Retryable, result.ReasonProviderUnavailable, "", 0},
		{"400 with header code", 400, nil, `{"header":{"resultCode":-2000,"resultMessage":"The 'content' must be at less than or equal to 1000.","isSuccessful":false}}`, providers.Permanent, result.ReasonProviderRejected, "-2000", 0},
		{"404 plain", 404, nil, "not found", providers.Permanent, result.ReasonProviderRejected, "", 0},
		{"header -7000", 200, nil, `{"header":{"resultCode":-7000,"resultMessage":"vendor","isSuccessful":false}}`, providers.Retryable, result.ReasonProviderUnavailable, "-7000", 0},
		{"header -9999", 200, nil, `{"header":{"resultCode":-9999,"resultMessage":"system","isSuccessful":false}}`, providers.Retryable, result.ReasonProviderUnavailable, "-9999", 0},
		{"header -9992 retired API", 200, nil, `{"header":{"resultCode":-9992,"resultMessage":"retired","isSuccessful":false}}`, providers.Permanent, result.ReasonProviderRejected, "-9992", 0},
		{"header -3015 template", 200, nil, `{"header":{"resultCode":-3015,"resultMessage":"no template","isSuccessful":false}}`, providers.Permanent, result.ReasonProviderRejected, "-3015", 0},
		{"success without sendResults", 200, nil, `{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true}}`, providers.Unknown, result.ReasonOutcomeUnknown, "0", 0},
		{"JSON without header", 200, nil, `{"message":{}}`, providers.Unknown, result.ReasonOutcomeUnknown, "", 0},
		{"JSON null", 200, nil, `null`, providers.Unknown, result.ReasonOutcomeUnknown, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL)
			out, err := c.Send(t.Context(), providertest.Batch(alimTalkJob(2), 2))
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Send = %v, %v; want a *providers.Error", out, err)
			}
			o := pe.Outcome()
			if o.Class != tc.class || o.EffectiveReason() != tc.reason || o.Code != tc.code || o.RetryAfter != tc.retryAfter {
				t.Errorf("got class %s reason %s code %q retry-after %s; want %s %s %q %s (%v)",
					o.Class, o.EffectiveReason(), o.Code, o.RetryAfter, tc.class, tc.reason, tc.code, tc.retryAfter, pe)
			}
		})
	}
}

func TestOversizedAndInvalidBatches(t *testing.T) {
	t.Parallel()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())
	noSender := providertest.Batch(alimTalkJob(1), 1)
	noSender.Key.Sender = ""
	mixed := providertest.Batch(alimTalkJob(2), 2)
	mixed.Messages[1].Job = friendTalkJob(2)
	noTemplate := providertest.Batch(alimTalkJob(1), 1)
	noTemplate.Key.Template = ""
	for _, tc := range []struct {
		name string
		b    *providers.Batch
	}{
		{"empty", &providers.Batch{ID: "x", Key: providers.Key{Kind: job.AlimTalk, Sender: "s", Template: "t"}}},
		{"1001 messages", providertest.Batch(alimTalkJob(1001), 1001)},
		{"no sender", noSender},
		{"mixed kinds", mixed},
		{"no template", noTemplate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Send(t.Context(), tc.b)
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Class != providers.Permanent || pe.Reason != result.ReasonInvalidJob {
				t.Errorf("err = %v, want Permanent invalid_job", err)
			}
		})
	}
	if f.Sends() != 0 {
		t.Errorf("fake saw %d requests", f.Sends())
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mutate  func(*providers.Spec)
		wantErr string
	}{
		{"ok", func(*providers.Spec) {}, ""},
		{"no app_key", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("alimtalk_version: v2.3\n") }, "app_key: required"},
		{"unknown option", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("app_key: a\nappkey: b\n") }, "appkey"},
		{"bad alimtalk_version", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("app_key: a\nalimtalk_version: 2.3\n") }, "alimtalk_version"},
		{"bad friendtalk_version", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("app_key: a\nfriendtalk_version: latest\n") }, "friendtalk_version"},
		{"app_key with slash", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("app_key: a/b\n") }, "app_key"},
		{"not_found_after zero", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("app_key: a\nnot_found_after: 0s\n") }, "options.not_found_after:"},
		{"not_found_after under 1s", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("app_key: a\nnot_found_after: 500ms\n") }, "options.not_found_after:"},
		{"not_found_after over 1h", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("app_key: a\nnot_found_after: 2h\n") }, "options.not_found_after:"},
		{"not_found_after 1s", func(s *providers.Spec) { s.DecodeOptions = yamlOptions("app_key: a\nnot_found_after: 1s\n") }, ""},
		{"no secret", func(s *providers.Spec) { s.Credentials = nil }, "credentials.secret_key"},
		{"bad base_url", func(s *providers.Spec) { s.BaseURL = "ftp://x" }, "base_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := testSpec("")
			tc.mutate(&spec)
			_, err := New(spec)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("New error = %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	p, err := New(testSpec(""))
	if err != nil {
		t.Fatal(err)
	}
	c := p.(*Client)
	want := endpoints{
		alimTalkTemplate: DefaultBaseURL + "/alimtalk/v2.3/appkeys/" + testAppKey + "/messages",
		alimTalkRaw:      DefaultBaseURL + "/alimtalk/v2.3/appkeys/" + testAppKey + "/raw-messages",
		friendTalk:       DefaultBaseURL + "/friendtalk/v1.5/appkeys/" + testAppKey + "/messages",
		alimTalkList:     DefaultBaseURL + "/alimtalk/v2.3/appkeys/" + testAppKey + "/messages",
		friendTalkList:   DefaultBaseURL + "/friendtalk/v1.5/appkeys/" + testAppKey + "/messages",
		brandFreestyle:   DefaultBaseURL + "/brand-message/v1.0/appkeys/" + testAppKey + "/freestyle-messages",
		brandBasic:       DefaultBaseURL + "/brand-message/v1.0/appkeys/" + testAppKey + "/basic-messages",
		brandList:        DefaultBaseURL + "/brand-message/v1.0/appkeys/" + testAppKey + "/messages",
		alimTalkAdmin:    DefaultBaseURL + "/alimtalk/v2.3/appkeys/" + testAppKey,
		friendTalkAdmin:  DefaultBaseURL + "/friendtalk/v1.5/appkeys/" + testAppKey,
	}
	if d := cmp.Diff(want, c.ep, cmp.AllowUnexported(endpoints{})); d != "" {
		t.Errorf("endpoints (-want +got):\n%s", d)
	}
	if !c.apis[job.FriendTalk].(friendTalkAPI).convertBrand {
		t.Error("convert_to_brand_message is not on by default")
	}
	if c.MaxBatch() != 1000 {
		t.Errorf("MaxBatch = %d", c.MaxBatch())
	}
}

func TestGroupingKeys(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("j", 128)
	for _, tc := range []struct {
		name, jobID string
		index       int
		want        string
	}{
		{"plain", "job-1", 7, "job-1/7"},
		{"long job id is hashed", long, 3, "h-" + digest(long, 48) + "/3"},
		{"plus sign is hashed", "a+b", 0, "h-" + digest("a+b", 48) + "/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := RecipientGroupingKey(tc.jobID, tc.index)
			if got != tc.want || len(got) > groupingKeyMax {
				t.Errorf("RecipientGroupingKey = %q (%d chars), want %q", got, len(got), tc.want)
			}
		})
	}
	if k := RecipientGroupingKey(long, 99999); len(k) > groupingKeyMax {
		t.Errorf("key of %d characters", len(k))
	}
	b := &providers.Batch{ID: "batch-job-1-3"}
	if k := SenderGroupingKey(b); k != "batch-job-1-3" {
		t.Errorf("SenderGroupingKey = %q", k)
	}
	b.ID = strings.Repeat("b", 101)
	if k := SenderGroupingKey(b); len(k) > groupingKeyMax || !strings.HasPrefix(k, "h-") {
		t.Errorf("SenderGroupingKey of a long ID = %q", k)
	}
}

func TestClassificationTable(t *testing.T) {
	t.Parallel()
	for _, r := range apiCodes {
		if r.name == "" || r.lo > r.hi || r.class < providers.Accepted || r.class > providers.Unknown {
			t.Errorf("malformed rule %+v", r)
		}
	}
	for _, tc := range []struct {
		code  int
		class providers.Class
		name  string
	}{
		{0, providers.Accepted, "success"},
		{-7000, providers.Retryable, "vendor call failed"},
		{-9999, providers.Retryable, "system error"},
		{-1005, providers.Unknown, "same X-NC-API-IDEMPOTENCY-KEY within 10 minutes"},
		{-9992, providers.Permanent, "retired API"},
		{-1001, providers.Permanent, "invalid secretKey"},
		{-1010, providers.Permanent, "account or sender error"},
		{-2030, providers.Permanent, "request validation error"},
		{-3349, providers.Permanent, "template error"},
		{-4019, providers.Permanent, "sender or template state error"},
		{-5000, providers.Permanent, "request refused"},
		{-8888, providers.Permanent, "undocumented result code"},
	} {
		if r := ruleFor(tc.code); r.class != tc.class || r.name != tc.name {
			t.Errorf("code %d: %s %q, want %s %q", tc.code, r.class, r.name, tc.class, tc.name)
		}
	}
	for code, want := range map[string]providers.Class{
		"1000": providers.Accepted, "3005": providers.Unknown, "3012": providers.Retryable, "3016": providers.Permanent, "9": providers.Permanent,
	} {
		if o := DeliveryOutcome(code); o.Class != want || o.CodeName == "" {
			t.Errorf("DeliveryOutcome(%s) = %+v, want class %s with a name", code, o, want)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// TestFakeFailsByPhoneAndCountsAcceptances covers the nhnfake API the
// worker's end-to-end tests use.
func TestFakeFailsByPhoneAndCountsAcceptances(t *testing.T) {
	t.Parallel()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())
	j := alimTalkJob(3)
	f.FailPhone(phone(2), "-9999")
	out, err := c.Send(t.Context(), providertest.Batch(j, 3))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if out[0].Class != providers.Accepted || out[1].Class != providers.Accepted || out[2].Class != providers.Retryable || out[2].Code != "-9999" {
		t.Fatalf("outcomes %+v; want accepted, accepted, retryable -9999", out)
	}
	if n := f.Accepted(RecipientGroupingKey(j.ID, 1)); n != 1 {
		t.Errorf("Accepted(recipient 1) = %d, want 1", n)
	}
	if n := f.Accepted(RecipientGroupingKey(j.ID, 2)); n != 0 {
		t.Errorf("Accepted(failed recipient) = %d, want 0", n)
	}
	if n := f.AcceptedTo(phone(0)); n != 1 {
		t.Errorf("AcceptedTo(recipient 0) = %d, want 1", n)
	}
}
