package providers

import (
	"context"
	"io"
	"net/http"
	"time"
)

// RequestGate admits each provider HTTP request of a call made with a
// context that carries it (WithRequestGate), through a client from Gated:
// a call that makes several requests — a lookup reading pages, or asking
// per message — has every one of them pass the account's rate limit, not
// only the first.
type RequestGate struct {
	// Wait blocks until the request may go (the account's rate limiter),
	// or fails when the context ends; the request is then not sent.
	Wait func(context.Context) error
	// Timeout, when > 0, bounds each request from its admission until its
	// answer has been read (its body closed): time spent waiting in Wait
	// does not count against it.
	Timeout time.Duration
}

type gateKey struct{}

// WithRequestGate returns ctx with g admitting each request made with it.
func WithRequestGate(ctx context.Context, g *RequestGate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// Gated returns a copy of hc (nil: http.DefaultClient) whose requests pass
// the RequestGate of their context, if any; requests without one go as
// before.
func Gated(hc *http.Client) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = gatedTransport{next}
	return &c
}

type gatedTransport struct{ next http.RoundTripper }

func (t gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g, _ := r.Context().Value(gateKey{}).(*RequestGate)
	if g == nil {
		return t.next.RoundTrip(r)
	}
	if err := g.Wait(r.Context()); err != nil {
		if r.Body != nil {
			r.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, err
	}
	if g.Timeout <= 0 {
		return t.next.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.Timeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends a request's timeout when its answer is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
