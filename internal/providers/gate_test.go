package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// TestGatedClient: every request made with a gated context waits for the
// gate first; a refused request is never sent; requests without a gate go
// as before.
func TestGatedClient(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served.Add(1) }))
	t.Cleanup(srv.Close)
	hc := providers.Gated(srv.Client())
	var waits atomic.Int64
	refuse := errors.New("refused")
	var refusing atomic.Bool
	ctx := providers.WithRequestGate(t.Context(), &providers.RequestGate{Wait: func(context.Context) error {
		waits.Add(1)
		if refusing.Load() {
			return refuse
		}
		return nil
	}})
	get := func(ctx context.Context) error { return getWith(t, hc, ctx, srv.URL) }
	for range 3 {
		if err := get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := get(t.Context()); err != nil {
		t.Fatal(err)
	}
	refusing.Store(true)
	if err := get(ctx); !errors.Is(err, refuse) {
		t.Errorf("refused request: %v, want the gate's error", err)
	}
	if waits.Load() != 4 || served.Load() != 4 {
		t.Errorf("%d gate waits, %d requests served; want 4 (3 gated + 1 refused) and 4 (3 gated + 1 ungated)", waits.Load(), served.Load())
	}
}

// TestGateTimeoutStartsAtAdmission: Timeout bounds a request from its
// admission, so a long wait for the rate limiter does not use it up, while
// a provider that does not answer is still cut off.
func TestGateTimeoutStartsAtAdmission(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	hc := providers.Gated(srv.Client())
	const timeout = 200 * time.Millisecond
	ctx := providers.WithRequestGate(t.Context(), &providers.RequestGate{Timeout: timeout, Wait: func(ctx context.Context) error {
		time.Sleep(2 * timeout) // the rate limiter keeps it waiting longer than the timeout
		return nil
	}})
	get := func(path string) error { return getWith(t, hc, ctx, srv.URL+path) }
	if err := get("/"); err != nil {
		t.Errorf("request admitted after a wait longer than its timeout: %v, want it sent and answered", err)
	}
	if err := get("/hang"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered request: %v, want its timeout", err)
	}
}

// getWith makes a GET of url with ctx through hc and closes the answer.
func getWith(t *testing.T, hc *http.Client, ctx context.Context, url string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}
