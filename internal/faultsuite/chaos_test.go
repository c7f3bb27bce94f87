package faultsuite

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyFaults checks each fault on its own: what the client sees and
// whether the request reached the backend.
func TestProxyFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault      Fault
		status     int  // 0: no answer (error)
		timeout    bool // the client's deadline ends the request
		forwarded  bool
		retryAfter string
	}{
		{fault: Pass, status: http.StatusAccepted, forwarded: true},
		{fault: RateLimited, status: http.StatusTooManyRequests, retryAfter: "1"},
		{fault: Unavailable, status: http.StatusServiceUnavailable},
		{fault: Reset},
		{fault: BadGatewayAfter, status: http.StatusBadGateway, forwarded: true},
		{fault: HangAfter, timeout: true, forwarded: true},
		{fault: HangBefore, timeout: true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if string(body) != "payload" || r.URL.RequestURI() != "/v2/services/ncp:a:b/messages?x=1" || r.Header.Get("X-Key") != "k" {
					t.Errorf("backend got %s %q with body %q, X-Key %q", r.Method, r.URL.RequestURI(), body, r.Header.Get("X-Key"))
				}
				hits.Add(1)
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, "taken")
			}))
			t.Cleanup(backend.Close)
			var rates Rates
			if tt.fault != Pass {
				rates[tt.fault] = 1
			}
			p := NewProxy(t, "test", backend.URL, func(r *http.Request) bool { return r.Method == http.MethodPost }, rates, 1)

			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+"/v2/services/ncp:a:b/messages?x=1", strings.NewReader("payload"))
			req.Header.Set("X-Key", "k")
			resp, err := http.DefaultClient.Do(req)
			switch {
			case tt.status != 0:
				if err != nil {
					t.Fatalf("request: %v, want HTTP %d", err, tt.status)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.status || resp.Header.Get("Retry-After") != tt.retryAfter {
					t.Errorf("HTTP %d, Retry-After %q; want %d, %q", resp.StatusCode, resp.Header.Get("Retry-After"), tt.status, tt.retryAfter)
				}
			case err == nil:
				resp.Body.Close()
				t.Fatalf("HTTP %d, want no answer", resp.StatusCode)
			case tt.timeout != errors.Is(err, context.DeadlineExceeded):
				t.Errorf("error %v; want a timeout: %v", err, tt.timeout)
			}
			want := int64(0)
			if tt.forwarded {
				want = 1
			}
			if n := hits.Load(); n != want {
				t.Errorf("backend saw %d requests, want %d", n, want)
			}
			if p.Count(tt.fault) != 1 || p.Sends() != 1 {
				t.Errorf("counted %d of %s, %d sends; want 1, 1", p.Count(tt.fault), tt.fault, p.Sends())
			}
		})
	}
}

// TestProxyPassesOtherRequests checks that requests other than sends
// (tokens, lookups) never get a fault.
func TestProxyPassesOtherRequests(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(backend.Close)
	var rates Rates
	rates[Unavailable] = 1
	p := NewProxy(t, "test", backend.URL, func(r *http.Request) bool { return r.Method == http.MethodPost }, rates, 1)
	for range 5 {
		resp, err := http.Get(p.URL() + "/lookup")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("lookup answered %d, want 200", resp.StatusCode)
		}
	}
	if p.Other() != 5 || p.Sends() != 0 {
		t.Errorf("other %d, sends %d; want 5, 0", p.Other(), p.Sends())
	}
}

func TestDefaultRates(t *testing.T) {
	t.Parallel()
	r := DefaultRates(0.12)
	sum := 0.0
	for _, f := range Faults {
		if r[f] <= 0 {
			t.Errorf("%s: rate %g", f, r[f])
		}
		sum += r[f]
	}
	if sum < 0.1199 || sum > 0.1201 || r[Pass] != 0 {
		t.Errorf("rates add up to %g (pass %g), want 0.12", sum, r[Pass])
	}
}

// TestPhonesIn checks that the proxy finds the recipients' numbers in each
// provider's send body, and nothing else.
func TestPhonesIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"naver", `{"plusFriendId":"@shop","messages":[{"to":"01000000001","content":"주문번호: 100001"},{"to":"01000000002"}]}`, []string{"01000000001", "01000000002"}},
		{"nhn", `{"senderKey":"0a1b","recipientList":[{"recipientNo":"010-0000-0003","templateParameter":{"order":"100003"}}]}`, []string{"01000000003"}},
		{"kakao", `{"sender_no":"0212345678","phone_number":"01000000004","cid":"fault-00001-kakao/0"}`, []string{"01000000004"}},
		{"not JSON", `01000000005`, nil},
	} {
		if got := phonesIn([]byte(tc.body)); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
