package naver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json golden request bodies")

// testNow is the fixed clock of tests that need one.
var testNow = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// The credentials and service naverfake accepts.
const (
	testAccessKey = naverfake.AccessKey
	testSecretKey = naverfake.SecretKey
	testServiceID = naverfake.ServiceID
)

func fixedNow() time.Time { return testNow }

func newTestClient(t *testing.T, baseURL string, mutate func(*Config)) *Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ServiceID = testServiceID
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewClient(cfg, baseURL, testAccessKey, testSecretKey, nil)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func testJob(n int) *job.Job {
	j := &job.Job{Version: 1, ID: "job-1", Account: "naver-main", Kind: job.AlimTalk,
		Sender: "@talkrelay", Template: "ORDER_SHIPPED"}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{
			Phone:   fmt.Sprintf("010-1234-%04d", i),
			Content: fmt.Sprintf("주문하신 상품이 발송되었습니다.\n주문번호: %d", 1000+i),
		})
	}
	return j
}

func conformanceSuite() providertest.Suite {
	return providertest.Suite{
		NewFake: func(t *testing.T) providertest.Fake { return naverfake.New(t) },
		NewProvider: func(t *testing.T, f providertest.Fake) providers.Provider {
			return newTestClient(t, f.URL(), nil)
		},
		Job:           testJob,
		RetryableCode: "B001",
		PermanentCode: "3016",
		UnknownCode:   "3005",
		NotFoundAfter: DefaultNotFoundAfter,
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, conformanceSuite())
}

func TestResolverConformance(t *testing.T) {
	t.Parallel()
	providertest.RunResolver(t, conformanceSuite())
}

func TestNewFromSpec(t *testing.T) {
	t.Parallel()
	decode := func(opts map[string]any) func(any) error {
		return func(into any) error {
			c := into.(*Config)
			for k, v := range opts {
				switch k {
				case "service_id":
					c.ServiceID = v.(string)
				case "host":
					c.Host = v.(string)
				}
			}
			return nil
		}
	}
	creds := map[string]string{"access_key": testAccessKey, "secret_key": testSecretKey}
	for _, tc := range []struct {
		name    string
		spec    providers.Spec
		wantURL string
		wantErr string
	}{
		{"defaults", providers.Spec{Account: "a", Credentials: creds, DecodeOptions: decode(map[string]any{"service_id": testServiceID})},
			"https://sens.apigw.ntruss.com/alimtalk/v2/services/" + testServiceID + "/messages", ""},
		{"gov host", providers.Spec{Account: "a", Credentials: creds, DecodeOptions: decode(map[string]any{"service_id": testServiceID, "host": "gov"})},
			"https://sens.apigw.gov-ntruss.com/alimtalk/v2/services/" + testServiceID + "/messages", ""},
		{"base_url with prefix wins", providers.Spec{Account: "a", BaseURL: "http://127.0.0.1:8080/proxy/", Credentials: creds,
			DecodeOptions: decode(map[string]any{"service_id": testServiceID, "host": "gov"})},
			"http://127.0.0.1:8080/proxy/alimtalk/v2/services/" + testServiceID + "/messages", ""},
		{"no service id", providers.Spec{Account: "a", Credentials: creds, DecodeOptions: decode(nil)}, "", "service_id: required"},
		{"no secret", providers.Spec{Account: "a", Credentials: map[string]string{"access_key": "x"}, DecodeOptions: decode(map[string]any{"service_id": testServiceID})},
			"", "accounts.a.credentials.secret_key"},
		{"bad base url", providers.Spec{Account: "a", BaseURL: "sens.example", Credentials: creds, DecodeOptions: decode(map[string]any{"service_id": testServiceID})},
			"", "base_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := New(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := p.(*Client).sendURL; got != tc.wantURL {
				t.Errorf("send URL = %q, want %q", got, tc.wantURL)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"service id with slash", func(c *Config) { c.ServiceID = "ncp:a/b" }, "service_id"},
		{"host", func(c *Config) { c.Host = "private" }, "host"},
		{"send path", func(c *Config) { c.SendPath = "/alimtalk/v2/messages" }, "send_path"},
		{"zone", func(c *Config) { c.ReserveTimeZone = "Mars/Olympus" }, "reserve_time_zone"},
		{"lookup zone", func(c *Config) { c.LookupTimeZone = "Mars/Olympus" }, "lookup_time_zone"},
		{"lookup zone empty", func(c *Config) { c.LookupTimeZone = "" }, "lookup_time_zone"},
		{"horizon", func(c *Config) { c.ReserveHorizonDays = 0 }, "reserve_horizon_days"},
		{"summary", func(c *Config) { c.SummaryPlacement = "both" }, "summary_placement"},
		{"header bytes", func(c *Config) { c.HeaderMaxBytes = -1 }, "header_max_bytes"},
		{"not found after unset", func(c *Config) { c.NotFoundAfter = 0 }, "not_found_after"},
		{"not found after under 1s", func(c *Config) { c.NotFoundAfter = 999 * time.Millisecond }, "not_found_after"},
		{"not found after over 1h", func(c *Config) { c.NotFoundAfter = time.Hour + time.Second }, "not_found_after"},
		{"not found after 1s", func(c *Config) { c.NotFoundAfter = time.Second }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultConfig()
			c.ServiceID = testServiceID
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr+":") {
				t.Fatalf("Validate error = %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

func TestSignatureKnownAnswer(t *testing.T) {
	t.Parallel()
	got := signature("GET", "/vserver/v2/getServerInstanceList?responseFormatType=json", "1234567890123", "TestAccessKey", "TestSecretKey")
	if want := "FPsYYX8fuMAgi+cue3eACOW0dNtIwu1LYWfg/megA2M="; got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
}

func TestSignHeadersUseRequestURI(t *testing.T) {
	t.Parallel()
	req, err := http.NewRequest("GET", "https://sens.apigw.ntruss.com/vserver/v2/getServerInstanceList?responseFormatType=json", nil)
	if err != nil {
		t.Fatal(err)
	}
	sign(req, time.UnixMilli(1234567890123), "TestAccessKey", "TestSecretKey")
	want := map[string]string{
		"x-ncp-apigw-timestamp":    "1234567890123",
		"x-ncp-iam-access-key":     "TestAccessKey",
		"x-ncp-apigw-signature-v2": "FPsYYX8fuMAgi+cue3eACOW0dNtIwu1LYWfg/megA2M=",
	}
	for k, v := range want {
		if got := req.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestResignsEveryCall moves both clocks past the gateway's 5 minutes of
// skew between two sends: the second passes only if it was signed anew.
func TestResignsEveryCall(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex // the fake reads the clock on its server goroutines
	now := testNow
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	f := naverfake.New(t, naverfake.WithClock(clock))
	c := newTestClient(t, f.URL(), nil)
	c.Now = clock
	j := testJob(1)
	for range 2 {
		out, err := c.Send(t.Context(), providertest.Batch(j, 1))
		if err != nil || out[0].Class != providers.Accepted {
			t.Fatalf("Send = %+v, %v", out, err)
		}
		mu.Lock()
		now = now.Add(10 * time.Minute)
		mu.Unlock()
	}
}

func TestGoldenRequests(t *testing.T) {
	t.Parallel()
	reserve := time.Date(2026, 12, 1, 9, 30, 45, 0, time.FixedZone("", 9*3600))
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		job    *job.Job
	}{
		{name: "basic_template", job: &job.Job{ID: "g1", Account: "naver-main", Kind: job.AlimTalk, Sender: "@talkrelay", Template: "WELCOME",
			Recipients: []job.Recipient{
				{Phone: "010-1234-5678", Content: "  안녕하세요 #{name}님 <b>&</b>\r\n가입을 환영합니다.  \n"},
				{Phone: "01098765432", CountryCode: "82", Content: "안녕하세요\t김민수님"},
			}}},
		{name: "emphasised_title", job: &job.Job{ID: "g2", Account: "naver-main", Kind: job.AlimTalk, Sender: "@talkrelay", Template: "OTP",
			Recipients: []job.Recipient{{Phone: "01012345678", Title: "인증번호 123456", Content: "인증번호는 123456입니다.\n3분 안에 입력해 주세요."}}}},
		{name: "item_list", job: itemListJob()},
		{name: "item_list_summary_in_message", mutate: func(c *Config) { c.SummaryPlacement = SummaryInMessage }, job: itemListJob()},
		{name: "buttons_every_type", job: &job.Job{ID: "g4", Account: "naver-main", Kind: job.AlimTalk, Sender: "@talkrelay", Template: "BUTTONS",
			Recipients: []job.Recipient{
				{Phone: "01012345678", Content: "버튼 안내", Buttons: []job.Button{
					{Type: "DS", Name: "배송 조회"},
					{Type: "WL", Name: "주문 상세", URLMobile: "https://m.example.com/orders/1", URLPC: "https://example.com/orders/1"},
					{Type: "AL", Name: "앱에서 보기", SchemeIOS: "shop://orders/1", SchemeAndroid: "shop://orders/1"},
					{Type: "BK", Name: "상담 요청"},
					{Type: "MD", Name: "메시지 전달"},
				}},
				{Phone: "01087654321", Content: "버튼 안내", Buttons: []job.Button{
					{Type: "AC", Name: "채널 추가"},
					{Type: "WL", Name: "모바일만", URLMobile: "http://m.example.com/"},
				}},
			}}},
		{name: "failover_config", job: &job.Job{ID: "g5", Account: "naver-main", Kind: job.AlimTalk, Sender: "@talkrelay", Template: "NOTICE",
			Failover: &job.Failover{Enabled: job.Bool(true), Type: "LMS", From: "02-1234-5678", Title: "[톡릴레이] 안내"},
			Recipients: []job.Recipient{
				{Phone: "01012345678", Content: "공지 안내입니다.", Failover: &job.Failover{Content: "문자로 대신 보내는 공지입니다."}},
				{Phone: "01087654321", Content: "공지 안내입니다."},
			}}},
		{name: "failover_disabled", job: &job.Job{ID: "g6", Account: "naver-main", Kind: job.AlimTalk, Sender: "@talkrelay", Template: "NOTICE",
			Failover:   &job.Failover{Enabled: job.Bool(false), Type: "SMS"},
			Recipients: []job.Recipient{{Phone: "01012345678", Content: "공지 안내입니다."}}}},
		{name: "reservation", job: &job.Job{ID: "g7", Account: "naver-main", Kind: job.AlimTalk, Sender: "@talkrelay", Template: "REMIND",
			ReserveAt:  &reserve,
			Recipients: []job.Recipient{{Phone: "01012345678", Content: "내일 예약이 있습니다."}}}},
		{name: "reservation_other_zone", mutate: func(c *Config) { c.ReserveTimeZone = "America/New_York" },
			job: &job.Job{ID: "g8", Account: "naver-main", Kind: job.AlimTalk, Sender: "@talkrelay", Template: "REMIND",
				ReserveAt:  &reserve,
				Recipients: []job.Recipient{{Phone: "01012345678", Content: "내일 예약이 있습니다."}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := naverfake.New(t, naverfake.WithClock(fixedNow))
			c := newTestClient(t, f.URL(), tc.mutate)
			c.Now = func() time.Time { return testNow }
			n := len(tc.job.Recipients)
			b := providertest.Batch(tc.job, n)
			for i := range b.Messages {
				if err := c.Check(&b.Messages[i]); err != nil {
					t.Fatalf("recipient %d fails Check: %v", i, err)
				}
			}
			out, err := c.Send(t.Context(), b)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			for i, o := range out {
				if o.Class != providers.Accepted {
					t.Errorf("message %d: %+v", i, o)
				}
			}
			// The golden file is the wire body indented for review: only
			// whitespace between tokens differs, order and escapes do not.
			var got bytes.Buffer
			if err := json.Indent(&got, f.LastBody(), "", "  "); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("request body differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

func itemListJob() *job.Job {
	return &job.Job{ID: "g3", Account: "naver-main", Kind: job.AlimTalk, Sender: "@talkrelay-shop", Template: "RECEIPT_ITEMS",
		Recipients: []job.Recipient{{
			Phone: "01012345678", CountryCode: "82", Header: "Receipt",
			Content:       "Thank you for your purchase.",
			ItemHighlight: &job.Pair{Title: "Talkrelay Shop", Description: "Order 7781"},
			Item: &job.Item{
				List:    []job.Pair{{Title: "Item", Description: "Blue mug"}, {Title: "Qty", Description: "2"}},
				Summary: &job.Pair{Title: "Total", Description: "₩24,000"},
			},
			Buttons: []job.Button{{Type: "AL", Name: "Open app", SchemeIOS: "shop://orders/7781", SchemeAndroid: "shop://orders/7781"}},
		}}}
}

func TestPartialFailure(t *testing.T) {
	t.Parallel()
	f := naverfake.New(t)
	c := newTestClient(t, f.URL(), nil)
	j := testJob(5)
	j.Failover = &job.Failover{Enabled: job.Bool(true)}
	f.Next(providertest.Answer{Codes: map[int]string{1: "3008", 2: "B004", 3: "3005", 4: "9999"}})
	out, err := c.Send(t.Context(), providertest.Batch(j, 5))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	type view struct {
		Class            providers.Class
		Reason           result.Reason
		Code, CodeName   string
		RequestID, MsgID string
	}
	var got []view
	for _, o := range out {
		got = append(got, view{o.Class, o.EffectiveReason(), o.Code, o.CodeName, o.RequestID, o.MessageID})
	}
	want := []view{
		{providers.Accepted, result.ReasonOK, "A000", "success", "RQ-1", "MSG-1-0"},
		{providers.Permanent, result.ReasonInvalidRecipient, "3008", "InvalidPhoneNumberException", "RQ-1", "MSG-1-1"},
		{providers.Retryable, result.ReasonRateLimited, "B004", "Quota Exceed", "RQ-1", "MSG-1-2"},
		{providers.Unknown, result.ReasonOutcomeUnknown, "3005", "AckTimeoutException", "RQ-1", "MSG-1-3"},
		// 9999 is retryable, but this message asked for SMS failover,
		// which may already have gone out: unknown.
		{providers.Unknown, result.ReasonOutcomeUnknown, "9999", "UnknownSystemError", "RQ-1", "MSG-1-4"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if out[1].Message != "fake failure 3008" {
		t.Errorf("message text = %q, want the requestStatusDesc", out[1].Message)
	}
}

func TestAnswerShapes(t *testing.T) {
	t.Parallel()
	dateIn90s := testNow.Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name           string
		status         int
		body           string
		headers        map[string]string
		class          providers.Class
		reason         result.Reason
		code, codeName string
		retryAfter     time.Duration
		msg            string
	}{
		{name: "count mismatch", status: 202, body: `{"requestId":"R","statusCode":"202","statusName":"success","messages":[{"messageId":"M","requestStatusCode":"A000"}]}`,
			class: providers.Unknown, reason: result.ReasonOutcomeUnknown},
		{name: "202 without messages", status: 202, body: `{"requestId":"R","statusCode":"202","statusName":"success"}`,
			class: providers.Unknown, reason: result.ReasonOutcomeUnknown},
		{name: "200 truncated JSON", status: 200, body: `{"requestId":"R","messages":[`, class: providers.Unknown, reason: result.ReasonOutcomeUnknown},
		{name: "429 with HTTP date", status: 429, body: `{"error":{"errorCode":"410","message":"Throttle Limited"}}`, headers: map[string]string{"Retry-After": dateIn90s},
			class: providers.Retryable, reason: result.ReasonRateLimited, code: "410", codeName: "Throttle Limited", retryAfter: 90 * time.Second},
		{name: "429 quota without Retry-After", status: 429, body: `{"error":{"errorCode":"400","message":"Quota Exceeded"}}`,
			class: providers.Retryable, reason: result.ReasonRateLimited, code: "400", codeName: "Quota Exceeded"},
		{name: "401 gateway", status: 401, body: `{"error":{"errorCode":"210","message":"Permission Denied","details":"no SENS permission"}}`,
			class: providers.Permanent, reason: result.ReasonAuth, code: "210", codeName: "Permission Denied", msg: "Permission Denied; no SENS permission"},
		{name: "403 SENS", status: 403, body: `{"status":403,"error":"Forbidden","message":"not allowed"}`,
			class: providers.Permanent, reason: result.ReasonAuth, msg: "Forbidden; not allowed"},
		{name: "400 SENS errors list", status: 400, body: `{"status":400,"errors":["messages[0].to: must not be blank"],"errorMessage":"Bad Request"}`,
			class: providers.Permanent, reason: result.ReasonProviderRejected, msg: "Bad Request; messages[0].to: must not be blank"},
		{name: "404 empty", status: 404, body: ``, class: providers.Permanent, reason: result.ReasonProviderRejected},
		{name: "500 SENS", status: 500, body: `{"status":500,"error":"Internal Server Error","message":"boom"}`,
			class: providers.Unknown, reason: result.ReasonOutcomeUnknown},
		{name: "504 gateway", status: 504, body: `{"error":{"errorCode":"510","message":"Endpoint Timeout"}}`,
			class: providers.Unknown, reason: result.ReasonOutcomeUnknown, code: "510", codeName: "Endpoint Timeout"},
		{name: "503 gateway", status: 503, body: `{"error":{"errorCode":"500","message":"Endpoint Error"}}`,
			class: providers.Retryable, reason: result.ReasonProviderUnavailable, code: "500", codeName: "Endpoint Error"},
		{name: "502 html", status: 502, body: `<html>bad gateway</html>`, class: providers.Unknown, reason: result.ReasonOutcomeUnknown, msg: "<html>bad gateway</html>"},
		{name: "302 not followed", status: 302, headers: map[string]string{"Location": "https://elsewhere.example/"},
			class: providers.Permanent, reason: result.ReasonProviderRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := naverfake.New(t, naverfake.WithClock(fixedNow))
			c := newTestClient(t, f.URL(), nil)
			c.Now = func() time.Time { return testNow }
			f.NextRaw(tc.status, tc.body, tc.headers)
			_, err := c.Send(t.Context(), providertest.Batch(testJob(2), 2))
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Send error = %v, want *providers.Error", err)
			}
			got := [5]any{pe.Class, pe.Reason, pe.Code, pe.CodeName, pe.RetryAfter}
			want := [5]any{tc.class, tc.reason, tc.code, tc.codeName, tc.retryAfter}
			if got != want {
				t.Errorf("class, reason, code, name, retry after = %v, want %v (%v)", got, want, pe)
			}
			if tc.msg != "" && pe.Message != tc.msg {
				t.Errorf("message = %q, want %q", pe.Message, tc.msg)
			}
			if f.Sends() != 1 {
				t.Errorf("%d requests, want 1", f.Sends())
			}
		})
	}
}

func TestTimeoutBeforeWriteIsRetryable(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, "http://127.0.0.1:1", nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Send(ctx, providertest.Batch(testJob(1), 1))
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Class != providers.Retryable || !errors.Is(err, context.Canceled) {
		t.Fatalf("Send error = %v, want retryable wrapping context.Canceled", err)
	}
}

func TestSendRefusesWithoutRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		batch func() *providers.Batch
	}{
		{"no sender", func() *providers.Batch {
			j := testJob(1)
			j.Sender = ""
			return providertest.Batch(j, 1)
		}},
		{"empty", func() *providers.Batch { return &providers.Batch{Key: providers.Key{Sender: "s", Template: "t"}} }},
		{"oversized", func() *providers.Batch { return providertest.Batch(testJob(101), 101) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := naverfake.New(t)
			c := newTestClient(t, f.URL(), nil)
			_, err := c.Send(t.Context(), tc.batch())
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Class != providers.Permanent || pe.Reason != result.ReasonInvalidJob {
				t.Errorf("Send error = %v, want permanent invalid_job", err)
			}
			if f.Sends() != 0 {
				t.Errorf("%d requests, want none", f.Sends())
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	price := int64(1000)
	seq := int64(1)
	at := func(d time.Duration) *time.Time { t := testNow.Add(d); return &t }
	for _, tc := range []struct {
		name    string
		mutate  func(*job.Job, *job.Recipient)
		cfg     func(*Config)
		wantErr string // "" when valid
	}{
		{"valid", func(*job.Job, *job.Recipient) {}, nil, ""},
		{"friendtalk", func(j *job.Job, _ *job.Recipient) { j.Kind = job.FriendTalk }, nil, "kind: friendtalk is not supported"},
		{"ad", func(j *job.Job, _ *job.Recipient) { j.Ad = true }, nil, "ad:"},
		{"variables only", func(_ *job.Job, r *job.Recipient) { r.Content = ""; r.Variables = map[string]string{"name": "김"} },
			nil, "template variables alone are not rendered"},
		{"variables with content", func(_ *job.Job, r *job.Recipient) { r.Variables = map[string]string{"name": "김"} }, nil, ""},
		{"quick replies", func(_ *job.Job, r *job.Recipient) { r.QuickReplies = []job.Button{{Type: "WL", Name: "x"}} }, nil, "quick_replies: not supported"},
		{"image", func(_ *job.Job, r *job.Recipient) { r.Image = &job.Image{Seq: &seq} }, nil, "image: not supported"},
		{"price", func(_ *job.Job, r *job.Recipient) { r.Price = &price; r.Currency = "KRW" }, nil, "price, currency: not supported"},
		{"tax codes", func(_ *job.Job, r *job.Recipient) { r.TaxCodes = []string{"a"} }, nil, "tax_codes: not supported"},
		{"unsubscribe no", func(j *job.Job, _ *job.Recipient) {
			j.Failover = &job.Failover{Enabled: job.Bool(true), UnsubscribeNo: "080-123-4567"}
		},
			nil, "failover.unsubscribe_no: not supported"},
		{"sms failover too long", func(j *job.Job, r *job.Recipient) {
			j.Failover = &job.Failover{Enabled: job.Bool(true), Type: "SMS"}
			r.Content = strings.Repeat("가", 46)
		}, nil, "failover.content: 92 bytes, at most 90 for SMS"},
		{"BC button", func(_ *job.Job, r *job.Recipient) { r.Buttons = []job.Button{{Type: "BC", Name: "상담"}} }, nil, "buttons[0].type: BC is not supported"},
		{"chat extra", func(_ *job.Job, r *job.Recipient) {
			r.Buttons = []job.Button{{Type: "BK", Name: "봇", ChatExtra: "x"}}
		}, nil, "chat_extra"},
		{"WL without mobile link", func(_ *job.Job, r *job.Recipient) { r.Buttons = []job.Button{{Type: "WL", Name: "웹"}} }, nil, "url_mobile: required"},
		{"bad phone", func(_ *job.Job, r *job.Recipient) { r.Phone = "0212345678" }, nil, "phone:"},
		{"content too long", func(_ *job.Job, r *job.Recipient) { r.Content = strings.Repeat("가", 1001) }, nil, "content: 1001 characters"},
		{"header 16 characters", func(_ *job.Job, r *job.Recipient) { r.Header = strings.Repeat("가", 16) }, nil, ""},
		{"header bytes when configured", func(_ *job.Job, r *job.Recipient) { r.Header = strings.Repeat("가", 6) },
			func(c *Config) { c.HeaderMaxBytes = 16 }, "header: 18 bytes"},
		{"reserve in range", func(j *job.Job, _ *job.Recipient) { j.ReserveAt = at(59 * 24 * time.Hour) }, nil, ""},
		{"reserve beyond horizon", func(j *job.Job, _ *job.Recipient) { j.ReserveAt = at(61 * 24 * time.Hour) }, nil, "reserve_at:"},
		{"reserve in the past", func(j *job.Job, _ *job.Recipient) { j.ReserveAt = at(-time.Hour) }, nil, "reserve_at:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, "http://127.0.0.1:1", tc.cfg)
			c.Now = func() time.Time { return testNow }
			j := testJob(1)
			tc.mutate(j, &j.Recipients[0])
			err := c.Check(&providers.Message{Job: j, Recipient: &j.Recipients[0], Attempt: 1})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Check error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code, statusName string
		failover         bool
		class            providers.Class
		name             string
	}{
		{"A000", "success", false, providers.Accepted, "success"},
		{"B001", "fail", true, providers.Retryable, "Request to relay failed"},
		{"B123", "fail", false, providers.Retryable, ""},
		{"3005", "fail", false, providers.Unknown, "AckTimeoutException"},
		{"3006", "fail", false, providers.Retryable, "FailedToSendMessageException"},
		{"3006", "fail", true, providers.Unknown, "FailedToSendMessageException"},
		{"3016", "fail", false, providers.Permanent, "NoMatchedTemplateException"},
		{"3012", "fail", false, providers.Permanent, "SerialNumberDuplicatedException"},
		{"E9999", "fail", false, providers.Permanent, ""},
		{"A001", "success", false, providers.Unknown, ""},
		{"Bxyz", "fail", false, providers.Permanent, ""},
	} {
		class, _, name := classify(tc.code, tc.statusName, tc.failover)
		if class != tc.class || name != tc.name {
			t.Errorf("classify(%q, %q, %v) = %s %q, want %s %q", tc.code, tc.statusName, tc.failover, class, name, tc.class, tc.name)
		}
	}
}

// TestDocListsEveryCode keeps docs/providers/naver.md in step with the table.
func TestDocListsEveryCode(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../../docs/providers/naver.md")
	if err != nil {
		t.Skipf("doc not found: %v", err)
	}
	for _, r := range codeTable {
		row := "| " + r.Code + " | " + r.Name + " | " + r.Class.String() + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("doc has no row %q", row)
		}
	}
}

// TestFakeFailsByPhoneAndCountsAcceptances covers the naverfake API the
// worker's end-to-end tests use.
func TestFakeFailsByPhoneAndCountsAcceptances(t *testing.T) {
	t.Parallel()
	f := naverfake.New(t)
	c := newTestClient(t, f.URL(), nil)
	j := testJob(3)
	f.FailPhone(j.Recipients[1].Phone, "3008")
	for range 2 {
		out, err := c.Send(t.Context(), providertest.Batch(j, 3))
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := []providers.Class{out[0].Class, out[1].Class, out[2].Class}; got[0] != providers.Accepted ||
			got[1] != providers.Permanent || got[2] != providers.Accepted || out[1].Code != "3008" {
			t.Fatalf("classes %v, code %q; want accepted, permanent 3008, accepted", got, out[1].Code)
		}
	}
	r := j.Recipients
	if n := f.Accepted(r[0].Phone, r[0].Content); n != 2 {
		t.Errorf("Accepted(recipient 0) = %d, want 2", n)
	}
	if n := f.Accepted(r[0].Phone, "other text"); n != 0 {
		t.Errorf("Accepted(recipient 0, other content) = %d, want 0", n)
	}
	if n := f.AcceptedTo(r[1].Phone); n != 0 {
		t.Errorf("AcceptedTo(failed recipient) = %d, want 0", n)
	}
	if f.Sends() != 2 {
		t.Errorf("Sends = %d, want 2", f.Sends())
	}
}
