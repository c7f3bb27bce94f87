package kakao

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// spec returns an account spec pointed at base whose options are the
// defaults changed by opt.
func spec(t *testing.T, base string, opt func(*Config)) providers.Spec {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return providers.Spec{
		Account:     "kakao-test",
		BaseURL:     base,
		Credentials: map[string]string{"client_id": testClientID, "client_secret": testClientSecret},
		DecodeOptions: func(into any) error {
			cfg := into.(*Config)
			cfg.SenderNo = "02-1234-5678"
			if opt != nil {
				opt(cfg)
			}
			return nil
		},
		HTTPClient: &http.Client{Transport: tr},
	}
}

// newTestClient builds a client on fake's URL and clock.
func newTestClient(t *testing.T, f *fake, opt func(*Config)) *Client {
	t.Helper()
	c, err := NewClient(spec(t, f.URL(), opt), WithClock(f.clock.Now))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func alimTalkJob(n int) *job.Job {
	j := &job.Job{Version: 1, ID: "order-shipped-0001", Account: "kakao-test", Kind: job.AlimTalk,
		Sender: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", Template: "ORDER_SHIPPED"}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{
			Phone:   "010-1234-567" + string(rune('0'+i%10)),
			Content: "[Talkrelay] 주문하신 상품이 발송되었습니다.\n송장번호: 1234-5678",
		})
	}
	return j
}

func friendTalkJob(n int) *job.Job {
	j := &job.Job{Version: 1, ID: "promo-0001", Account: "kakao-test", Kind: job.FriendTalk,
		Sender: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{
			Phone:   "0109876543" + string(rune('0'+i%10)),
			Content: "이번 주말 전 품목 20% 할인!",
		})
	}
	return j
}

func suite(job func(int) *job.Job) providertest.Suite { return suiteWithClock(job, newClock) }

// suiteWithClock is suite with the fake's and client's clock from clk.
func suiteWithClock(job func(int) *job.Job, clk func() *providertest.Clock) providertest.Suite {
	return providertest.Suite{
		NewFake: func(t *testing.T) providertest.Fake { return newFake(t, clk()) },
		NewProvider: func(t *testing.T, pf providertest.Fake) providers.Provider {
			clk := newClock()
			if f, ok := pf.(*fake); ok {
				clk = f.clock
			}
			c, err := NewClient(spec(t, pf.URL(), nil), WithClock(clk.Now))
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			return c
		},
		Job:           job,
		RetryableCode: "520",
		PermanentCode: "510",
		UnknownCode:   "100",
		NotFoundAfter: DefaultNotFoundAfter,
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

// send sends the first recipient of j through c.
func send(t *testing.T, c *Client, j *job.Job) ([]providers.Outcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return c.Send(ctx, providertest.Batch(j, 1))
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  func(*Config)
		want string // prefix of the error
	}{
		{"unknown host", func(c *Config) { c.Host = "prod" }, "accounts.kakao-test.options.host:"},
		{"send path without slash", func(c *Config) { c.SendPath = "v2/send" }, "accounts.kakao-test.options.send_path:"},
		{"send path with another placeholder", func(c *Config) { c.SendPath = "/v2/{id}/kakao" }, "accounts.kakao-test.options.send_path:"},
		{"auth style", func(c *Config) { c.AuthStyle = "bearer" }, "accounts.kakao-test.options.auth_style:"},
		{"phone format", func(c *Config) { c.PhoneFormat = "e164" }, "accounts.kakao-test.options.phone_format:"},
		{"sender no", func(c *Config) { c.SenderNo = "02-CALL-ME" }, "accounts.kakao-test.options.sender_no:"},
		{"search path with a placeholder", func(c *Config) { c.SearchPath = "/v2/{x}/search" }, "accounts.kakao-test.options.search_path:"},
		{"detail path without uid", func(c *Config) { c.DetailPath = "/v2/info/message/search/detail" }, "accounts.kakao-test.options.detail_path:"},
		{"detail path with another placeholder", func(c *Config) { c.DetailPath = "/v2/{cid}/{uid}" }, "accounts.kakao-test.options.detail_path:"},
		{"not found after zero", func(c *Config) { c.NotFoundAfter = 0 }, "accounts.kakao-test.options.not_found_after:"},
		{"not found after under 1s", func(c *Config) { c.NotFoundAfter = 999 * time.Millisecond }, "accounts.kakao-test.options.not_found_after:"},
		{"not found after over 1h", func(c *Config) { c.NotFoundAfter = 61 * time.Minute }, "accounts.kakao-test.options.not_found_after:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewClient(spec(t, "", tc.opt))
			if err == nil || len(err.Error()) < len(tc.want) || err.Error()[:len(tc.want)] != tc.want {
				t.Errorf("NewClient error = %v, want one starting %q", err, tc.want)
			}
		})
	}
	t.Run("missing secret", func(t *testing.T) {
		t.Parallel()
		s := spec(t, "", nil)
		delete(s.Credentials, "client_secret")
		if _, err := New(s); err == nil {
			t.Error("New without client_secret succeeded")
		}
	})
}

func TestHostSelection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ host, base, want string }{
		{"", "", "https://bizmsg-web.kakaoenterprise.com"},
		{"bank", "", "https://bizmsg-bank.kakaoenterprise.com"},
		{"staging-general", "", "https://stg-user.bizmsg.kakaoenterprise.com"},
		{"staging-gov", "", "https://stg-bizmsg-gov.kakaoenterprise.com"},
		{"gov", "http://127.0.0.1:8080/prefix/", "http://127.0.0.1:8080/prefix"},
	} {
		t.Run(tc.host+tc.base, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(spec(t, tc.base, func(c *Config) {
				if tc.host != "" {
					c.Host = tc.host
				}
			}))
			if err != nil {
				t.Fatal(err)
			}
			if c.baseURL != tc.want {
				t.Errorf("base URL %q, want %q", c.baseURL, tc.want)
			}
		})
	}
}

func TestSendPathWithCID(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock(), kakaofake.WithSendPath(`^/v2/request/([^/]+)/kakao$`))
	c := newTestClient(t, f, func(c *Config) { c.SendPath = "/v2/request/{cid}/kakao" })
	out, err := send(t, c, alimTalkJob(1))
	if err != nil || out[0].Class != providers.Accepted {
		t.Fatalf("Send = %+v, %v", out, err)
	}
}

func TestSendAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		answer     providertest.Answer
		class      providers.Class
		reason     result.Reason
		code       string
		retryAfter time.Duration
		batchErr   bool
	}{
		{name: "success", class: providers.Accepted, reason: result.ReasonOK, code: "200"},
		{name: "processing", answer: providertest.Answer{Codes: map[int]string{0: "100"}}, class: providers.Unknown, reason: result.ReasonOutcomeUnknown, code: "100"},
		{name: "internal error", answer: providertest.Answer{Codes: map[int]string{0: "500"}}, class: providers.Unknown, reason: result.ReasonOutcomeUnknown, code: "500"},
		{name: "resendable", answer: providertest.Answer{Codes: map[int]string{0: "520"}}, class: providers.Retryable, reason: result.ReasonProviderUnavailable, code: "520"},
		{name: "send failed", answer: providertest.Answer{Codes: map[int]string{0: "510"}}, class: providers.Permanent, reason: result.ReasonProviderRejected, code: "510"},
		{name: "permission", answer: providertest.Answer{Codes: map[int]string{0: "400"}}, class: providers.Permanent, reason: result.ReasonAuth, code: "400"},
		{name: "invalid input", answer: providertest.Answer{Codes: map[int]string{0: "410"}}, class: providers.Permanent, reason: result.ReasonProviderRejected, code: "410"},
		{name: "image error", answer: providertest.Answer{Codes: map[int]string{0: "420"}}, class: providers.Permanent, reason: result.ReasonProviderRejected, code: "420"},
		{name: "undocumented code", answer: providertest.Answer{Codes: map[int]string{0: "999"}}, class: providers.Unknown, reason: result.ReasonOutcomeUnknown, code: "999"},
		{name: "HTTP 403", answer: providertest.Answer{Status: 403}, class: providers.Permanent, reason: result.ReasonAuth, batchErr: true},
		{name: "HTTP 404", answer: providertest.Answer{Status: 404}, class: providers.Permanent, reason: result.ReasonProviderRejected, batchErr: true},
		{name: "HTTP 408", answer: providertest.Answer{Status: 408}, class: providers.Retryable, reason: result.ReasonProviderUnavailable, batchErr: true},
		{name: "HTTP 429 date", answer: providertest.Answer{Status: 429, RetryAfter: "Tue, 10 Nov 2026 05:00:30 GMT"}, class: providers.Retryable, reason: result.ReasonRateLimited, retryAfter: 30 * time.Second, batchErr: true},
		{name: "HTTP 503 Retry-After", answer: providertest.Answer{Status: 503, RetryAfter: "12"}, class: providers.Retryable, reason: result.ReasonProviderUnavailable, retryAfter: 12 * time.Second, batchErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, newClock())
			c := newTestClient(t, f, nil)
			f.Next(tc.answer)
			out, err := send(t, c, alimTalkJob(1))
			var o providers.Outcome
			if tc.batchErr {
				var pe *providers.Error
				if !errors.As(err, &pe) {
					t.Fatalf("Send = %+v, %v; want a *providers.Error", out, err)
				}
				o = pe.Outcome()
			} else {
				if err != nil || len(out) != 1 {
					t.Fatalf("Send = %+v, %v", out, err)
				}
				o = out[0]
				if o.CodeName == "" {
					t.Errorf("code %s has no name", o.Code)
				}
				if o.Code != tc.code {
					t.Errorf("code %q, want %q", o.Code, tc.code)
				}
			}
			if o.Class != tc.class || o.EffectiveReason() != tc.reason || o.RetryAfter != tc.retryAfter {
				t.Errorf("outcome %+v: want class %s reason %s retry after %s", o, tc.class, tc.reason, tc.retryAfter)
			}
			if tc.class == providers.Accepted && o.MessageID == "" {
				t.Error("accepted without the uid as MessageID")
			}
		})
	}
}

func TestSendRefusesWithoutRequest(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	j := alimTalkJob(1)
	b := providertest.Batch(j, 1)
	b.Key.Sender = ""
	_, err := c.Send(t.Context(), b)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Class != providers.Permanent {
		t.Errorf("Send without sender key = %v, want permanent", err)
	}
	if f.Sends() != 0 || f.TokenRequests() != 0 {
		t.Errorf("%d sends, %d token requests; want none", f.Sends(), f.TokenRequests())
	}
	if out, err := c.Send(t.Context(), &providers.Batch{}); err != nil || len(out) != 0 {
		t.Errorf("empty batch = %v, %v", out, err)
	}
}

func TestCID(t *testing.T) {
	t.Parallel()
	a := CID("order-1", 0)
	if a != "order-1~0" {
		t.Errorf("cid %q, want order-1~0", a)
	}
	if id, i, ok := ParseCID(a); !ok || id != "order-1" || i != 0 {
		t.Errorf("ParseCID(%q) = %q, %d, %v", a, id, i, ok)
	}
	long := strings.Repeat("x", 49)
	if h := CID(long, 0); h != HashedCID(long, 0) || len(h) != CIDLen {
		t.Errorf("cid of a job id too long to decode: %q, want the hashed one", h)
	}
	for _, bad := range []string{HashedCID("order-1", 0), "order-1~01", "order-1~-1", "~0", "order-1~", "x" + long + "~0"} {
		if _, _, ok := ParseCID(bad); ok {
			t.Errorf("ParseCID(%q) decoded", bad)
		}
	}
	if CID("order-1", 0) != a {
		t.Error("cid is not stable")
	}
	for _, other := range []string{CID("order-1", 1), CID("order-10", 0), CID("order-", 10)} {
		if other == a {
			t.Errorf("cid collision %s", a)
		}
	}
}

// TestFakeFailsByPhoneAndCountsAcceptances covers the kakaofake API the
// worker's end-to-end tests use.
func TestFakeFailsByPhoneAndCountsAcceptances(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	j := alimTalkJob(2)
	f.FailPhone(j.Recipients[1].Phone, "510")
	for i, want := range []providers.Class{providers.Accepted, providers.Permanent} {
		b := providertest.Batch(j, 2)
		b.Messages = b.Messages[i : i+1]
		out, err := c.Send(t.Context(), b)
		if err != nil || out[0].Class != want {
			t.Fatalf("recipient %d: Send = %+v, %v; want %s", i, out, err, want)
		}
	}
	if n := f.Accepted(CID(j.ID, 0)); n != 1 {
		t.Errorf("Accepted(cid of recipient 0) = %d, want 1", n)
	}
	if n := f.Accepted(CID(j.ID, 1)) + f.AcceptedTo(j.Recipients[1].Phone); n != 0 {
		t.Errorf("failed recipient counted %d times as accepted", n)
	}
	if f.Sends() != 2 || f.TokenRequests() != 1 {
		t.Errorf("Sends = %d, TokenRequests = %d; want 2, 1", f.Sends(), f.TokenRequests())
	}
}
