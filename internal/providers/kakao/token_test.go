package kakao

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/result"
)

func bearer(f *fake) string { return f.LastHeader().Get("Authorization") }

func mustSend(t *testing.T, c *Client) {
	t.Helper()
	out, err := send(t, c, alimTalkJob(1))
	if err != nil || len(out) != 1 || out[0].Class != providers.Accepted {
		t.Fatalf("Send = %+v, %v", out, err)
	}
}

func TestTokenIssueAndReuse(t *testing.T) {
	t.Parallel()
	for _, style := range []string{AuthKakao, AuthRFC} {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, newClock(), kakaofake.WithAuthStyle(style))
			c := newTestClient(t, f, func(c *Config) { c.AuthStyle = style })
			for range 3 {
				mustSend(t, c)
				if got := bearer(f); got != "Bearer tok-1" {
					t.Errorf("Authorization %q, want Bearer tok-1", got)
				}
			}
			if n := f.TokenRequests(); n != 1 {
				t.Errorf("%d token requests for 3 sends, want 1", n)
			}
		})
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		life    int           // seconds
		reuse   time.Duration // still reused this long after issue
		renewed time.Duration // renewed by this long after issue
	}{
		// 6 hours: renewed 5 minutes before expiry.
		{"six hours", 21600, 21600*time.Second - 5*time.Minute - time.Second, 21600*time.Second - 5*time.Minute},
		// 60 seconds: renewed at 90% of its life.
		{"one minute", 60, 53 * time.Second, 54 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			f := newFake(t, clk, kakaofake.WithTokenLife(tc.life))
			c := newTestClient(t, f, nil)
			mustSend(t, c)
			clk.Advance(tc.reuse)
			mustSend(t, c)
			if n := f.TokenRequests(); n != 1 {
				t.Fatalf("%d token requests at %s, want 1", n, tc.reuse)
			}
			clk.Advance(tc.renewed - tc.reuse)
			mustSend(t, c)
			if n := f.TokenRequests(); n != 2 {
				t.Errorf("%d token requests at %s, want 2", n, tc.renewed)
			}
			if got := bearer(f); got != "Bearer tok-2" {
				t.Errorf("Authorization %q, want the renewed token", got)
			}
			if f.Sends() != 3 {
				t.Errorf("%d sends, want 3 (no 401 retries)", f.Sends())
			}
		})
	}
}

func TestTokenRenewedOn401(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock(), kakaofake.WithTokenLife(0)) // no expires_in: kept until refused
	c := newTestClient(t, f, nil)
	mustSend(t, c)
	f.Revoke()
	mustSend(t, c)
	if n := f.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	if f.Sends() != 3 {
		t.Errorf("%d sends, want 3 (one refused, one retried)", f.Sends())
	}
	if got := bearer(f); got != "Bearer tok-2" {
		t.Errorf("retry carried %q, want the new token", got)
	}
}

// sendConcurrently sends from n goroutines at once while token requests
// are held until every sender but the one fetching waits for that fetch.
func sendConcurrently(t *testing.T, f *fake, c *Client, n int) {
	t.Helper()
	release, _ := f.GateTokens()
	defer release()
	var waiting atomic.Int64
	c.tokens.waitHook = func() {
		if waiting.Add(1) == int64(n-1) {
			release()
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			out, err := c.Send(ctx, providersBatch())
			if err == nil && out[0].Class != providers.Accepted {
				err = errors.New(out[0].Class.String())
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Send: %v", err)
	}
}

func providersBatch() *providers.Batch {
	j := alimTalkJob(1)
	return &providers.Batch{ID: "b", Key: providers.KeyOf(j, &j.Recipients[0], ""),
		Messages: []providers.Message{{Job: j, Recipient: &j.Recipients[0], Attempt: 1}}}
}

func TestOneTokenRequestForConcurrentSenders(t *testing.T) {
	t.Parallel()
	const senders = 100
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	sendConcurrently(t, f, c, senders)
	if n := f.TokenRequests(); n != 1 {
		t.Errorf("%d token requests for %d concurrent senders, want 1", n, senders)
	}

	// All of them refused at once: still one renewal.
	f.Revoke()
	sendConcurrently(t, f, c, senders)
	if n := f.TokenRequests(); n != 2 {
		t.Errorf("%d token requests after %d concurrent 401s, want 2", n, senders)
	}
	if got, want := f.Sends(), 3*senders; got != want {
		t.Errorf("%d sends, want %d", got, want)
	}
}

func TestWaiterOutlivesLeaderContext(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := newTestClient(t, f, nil)
	release, seen := f.GateTokens()
	defer release()
	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	waiting := make(chan struct{})
	var once sync.Once
	c.tokens.waitHook = func() { once.Do(func() { close(waiting) }) }
	leaderDone := make(chan error, 1)
	go func() {
		_, err := c.tokens.get(leaderCtx, "")
		leaderDone <- err
	}()
	<-seen // the leader's fetch is in flight
	waiterDone := make(chan error, 1)
	go func() {
		_, err := c.tokens.get(t.Context(), "")
		waiterDone <- err
	}()
	<-waiting
	cancelLeader()
	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v, want context.Canceled", err)
	}
	release()
	if err := <-waiterDone; err != nil {
		t.Errorf("waiter: %v, want a token of its own fetch", err)
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		status     int
		class      providers.Class
		reason     result.Reason
		retryAfter time.Duration
	}{
		{"401", http.StatusUnauthorized, providers.Permanent, result.ReasonAuth, 0},
		{"400 invalid_client", http.StatusBadRequest, providers.Permanent, result.ReasonAuth, 0},
		{"429", http.StatusTooManyRequests, providers.Retryable, result.ReasonRateLimited, 3 * time.Second},
		{"500", http.StatusInternalServerError, providers.Retryable, result.ReasonProviderUnavailable, 0},
		{"503", http.StatusServiceUnavailable, providers.Retryable, result.ReasonProviderUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, newClock())
			c := newTestClient(t, f, nil)
			f.NextToken(tc.status)
			_, err := send(t, c, alimTalkJob(1))
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Send error %v, want a *providers.Error", err)
			}
			if pe.Class != tc.class || pe.Reason != tc.reason || pe.RetryAfter != tc.retryAfter {
				t.Errorf("error %v (reason %s, retry after %s), want %s %s %s", pe, pe.Reason, pe.RetryAfter, tc.class, tc.reason, tc.retryAfter)
			}
			if f.Sends() != 0 {
				t.Errorf("%d sends without a token", f.Sends())
			}
			// The failure is not cached: the next send fetches again.
			mustSend(t, c)
		})
	}
}

func TestTokenAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		body  string
		life  time.Duration
		class providers.Class // 0: success
	}{
		{"number", `{"access_token":"a","expires_in":21600}`, 6 * time.Hour, 0},
		{"string", `{"access_token":"a","expires_in":"3600"}`, time.Hour, 0},
		{"absent", `{"access_token":"a"}`, 0, 0},
		{"no token", `{"token_type":"bearer"}`, 0, providers.Retryable},
		{"code 400", `{"code":"400","result":{"detail_code":"AUTH","detail_message":"x"}}`, 0, providers.Permanent},
		{"not json", `<html>`, 0, providers.Retryable},
		{"negative", `{"access_token":"a","expires_in":-5}`, 0, providers.Retryable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newTokenServer(t, tc.body)
			c, err := NewClient(spec(t, srv, nil))
			if err != nil {
				t.Fatal(err)
			}
			tok, life, err := c.fetchToken(t.Context())
			if tc.class != 0 {
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Class != tc.class {
					t.Errorf("fetchToken = %q, %v; want a %s error", tok, err, tc.class)
				}
				return
			}
			if err != nil || tok != "a" || life != tc.life {
				t.Errorf("fetchToken = %q, %s, %v; want a, %s", tok, life, err, tc.life)
			}
		})
	}
}

// newTokenServer answers every request with body.
func newTokenServer(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
