package naver

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// TestQueryTimeOnTheWire: the request query's window is written
// YYYY-MM-DD HH:mm:ss with the space as %20, in lookup_time_zone, and an
// empty 404 answer is "nothing matches".
func TestQueryTimeOnTheWire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		zone      string
		wantStart string
	}{
		{"Asia/Seoul", "requestStartTime=2026-11-30%2018%3A58%3A00"},
		{"UTC", "requestStartTime=2026-11-30%2009%3A58%3A00"},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var raw []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				raw = append(raw, r.URL.RawQuery)
				mu.Unlock()
				w.WriteHeader(http.StatusNotFound) // empty: nothing matches
			}))
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL, func(cfg *Config) { cfg.LookupTimeZone = tc.zone })
			c.Now = func() time.Time { return testNow.Add(DefaultNotFoundAfter) }
			b := providertest.Batch(testJob(1), 1)
			out, err := c.Resolve(t.Context(), queriesFor(b, testNow, func(int) providers.Outcome {
				return providers.Outcome{Class: providers.Unknown}
			}))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if out[0].Class != providers.Retryable {
				t.Errorf("empty 404 %s after the send: %s (%+v), want retryable (never taken)", DefaultNotFoundAfter, out[0].Class, out[0])
			}
			mu.Lock()
			defer mu.Unlock()
			if len(raw) != 1 || !strings.Contains(raw[0], tc.wantStart+"&") || strings.Contains(raw[0], "+") {
				t.Errorf("queries %q, want one with %s and no '+'", raw, tc.wantStart)
			}
		})
	}
}

// breachTB records the breaches a fake reports instead of failing.
type breachTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (b *breachTB) Errorf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
}

func (b *breachTB) breaches() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// TestFakeRefusesOldQueryTime: naverfake holds the client to the current
// format: the older API document's 'T' layout and a '+' for the space
// are breaches.
func TestFakeRefusesOldQueryTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, start, end string }{
		{"T layout", "2026-11-30T18:58:00", "2026-11-30T19:00:00"},
		{"plus for the space", "2026-11-30+18%3A58%3A00", "2026-11-30+19%3A00%3A00"},
		{"current format", "2026-11-30%2018%3A58%3A00", "2026-11-30%2019%3A00%3A00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := &breachTB{TB: t}
			f := naverfake.New(tb, naverfake.WithClock(fixedNow))
			c := newTestClient(t, f.URL(), nil)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet,
				c.sendURL+"?plusFriendId=%40talkrelay&requestStartTime="+tc.start+"&requestEndTime="+tc.end, nil)
			if err != nil {
				t.Fatal(err)
			}
			sign(req, testNow, testAccessKey, testSecretKey)
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			wantOK := tc.name == "current format"
			if got := resp.StatusCode == http.StatusBadRequest; got == wantOK || (len(tb.breaches()) == 0) != wantOK {
				t.Errorf("HTTP %d, breaches %q; want refused: %t", resp.StatusCode, tb.breaches(), !wantOK)
			}
		})
	}
}

// TestGatewayRateLimitCodes: a 429 with any of the API Gateway's
// rate-limit codes (400 quota, 410 throttle, 420 rate) is retryable,
// rate_limited, with the code, its name and Retry-After kept, on a send and
// on a request query alike (the adaptive limiter reads the reason).
func TestGatewayRateLimitCodes(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"400", "410", "420"} {
		for _, path := range []string{"send", "query"} {
			t.Run(code+"/"+path, func(t *testing.T) {
				t.Parallel()
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", "7")
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusTooManyRequests)
					fmt.Fprintf(w, `{"error":{"errorCode":%q,"message":%q}}`, code, gatewayNames[code])
				}))
				t.Cleanup(srv.Close)
				c := newTestClient(t, srv.URL, nil)
				c.Now = fixedNow
				b := providertest.Batch(testJob(1), 1)
				var err error
				if path == "send" {
					_, err = c.Send(t.Context(), b)
				} else {
					_, err = c.Resolve(t.Context(), queriesFor(b, testNow, func(int) providers.Outcome {
						return providers.Outcome{Class: providers.Unknown}
					}))
				}
				var pe *providers.Error
				switch {
				case !errors.As(err, &pe):
					t.Fatalf("error %v, want a *providers.Error", err)
				case pe.Class != providers.Retryable || pe.Reason != result.ReasonRateLimited:
					t.Errorf("%s/%s, want retryable/rate_limited", pe.Class, pe.Reason)
				case pe.Code != code || pe.CodeName != gatewayNames[code] || pe.RetryAfter != 7*time.Second:
					t.Errorf("code %q %q, Retry-After %s; want %q %q, 7s", pe.Code, pe.CodeName, pe.RetryAfter, code, gatewayNames[code])
				}
			})
		}
	}
}

// FuzzRateLimitAnswer: whatever a 429 carries (the gateway's body, SENS's,
// garbage; any Retry-After), it is retryable and rate_limited, its delay
// stays within providers.MaxRetryAfter, and a code name comes only from
// the gateway's documented table.
func FuzzRateLimitAnswer(f *testing.F) {
	for _, code := range []string{"400", "410", "420"} {
		f.Add([]byte(`{"error":{"errorCode":"`+code+`","message":"`+gatewayNames[code]+`"}}`), "7")
	}
	for _, seed := range []string{`{"status":429,"error":"Too Many Requests","message":"slow down"}`, `{"error":{"errorCode":999}}`,
		`{"error":"x"}`, ``, `<html>429</html>`, "\xff\xfe{"} {
		f.Add([]byte(seed), "Mon, 30 Nov 2026 10:01:30 GMT")
	}
	c := &Client{Now: fixedNow}
	f.Fuzz(func(t *testing.T, body []byte, retryAfter string) {
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {retryAfter}}}
		var pe *providers.Error
		if !errors.As(c.httpError(resp, body), &pe) {
			t.Fatal("not a *providers.Error")
		}
		switch {
		case pe.Class != providers.Retryable || pe.Reason != result.ReasonRateLimited:
			t.Fatalf("%s/%s, want retryable/rate_limited", pe.Class, pe.Reason)
		case pe.RetryAfter < 0 || pe.RetryAfter > providers.MaxRetryAfter:
			t.Fatalf("Retry-After %q read as %s", retryAfter, pe.RetryAfter)
		case pe.CodeName != gatewayNames[pe.Code]:
			t.Fatalf("code %q named %q", pe.Code, pe.CodeName)
		}
	})
}
