// Package faultsuite proves talkrelay's promise — nothing lost, nothing
// sent twice — under crashes and outages. Its test, TestFaultSuite, runs
// the real worker binary against a real nats-server and the three provider
// fakes, kills the worker with SIGKILL at random moments, restarts NATS,
// and puts a chaos proxy in front of every fake. See faultsuite_test.go
// for the driver and its settings (FAULT_* environment variables).
//
// This file is the chaos proxy.
package faultsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is what the proxy does to one send request.
type Fault int

const (
	// Pass forwards the request and relays the answer.
	Pass Fault = iota
	// RateLimited answers 429 with Retry-After: 1 without forwarding.
	RateLimited
	// Unavailable answers 503 without forwarding.
	Unavailable
	// Reset closes the connection (RST) before forwarding.
	Reset
	// BadGatewayAfter forwards (the provider takes the messages), then
	// answers 502: the answer is lost on the way back.
	BadGatewayAfter
	// HangAfter forwards (the provider takes the messages), then never
	// answers: the client times out after its request was written.
	HangAfter
	// HangBefore reads the request without forwarding and never answers:
	// the same timeout for the client, but nothing was taken.
	HangBefore

	numFaults
)

// Faults lists the injected faults (every Fault but Pass) in order.
var Faults = []Fault{RateLimited, Unavailable, Reset, BadGatewayAfter, HangAfter, HangBefore}

func (f Fault) String() string {
	return [...]string{"pass", "429 not forwarded", "503 not forwarded", "reset before forwarding",
		"502 after forwarding", "hang after forwarding", "hang, not forwarded"}[f]
}

// Rates is the share of send requests that get each fault; the rest pass.
// The shares must add up to at most 1.
type Rates [numFaults]float64

// DefaultRates spreads total over the faults: the cheap refusals most
// often, the hangs (each costs the client its request timeout) least.
func DefaultRates(total float64) Rates {
	var r Rates
	weights := map[Fault]float64{RateLimited: 3, Unavailable: 3, Reset: 2, BadGatewayAfter: 2, HangAfter: 1, HangBefore: 1}
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	for f, w := range weights {
		r[f] = total * w / sum
	}
	return r
}

// Proxy is an HTTP server in front of a provider fake. Send requests
// (those isSend matches) get a fault at the configured rates; every other
// request (tokens, lookups) is passed through untouched, so that chaos
// stays on the path whose outcomes the worker must reconcile.
type Proxy struct {
	name   string
	target *url.URL
	isSend func(*http.Request) bool
	rates  Rates
	srv    *httptest.Server
	client *http.Client
	stop   chan struct{}

	mu  sync.Mutex
	rng *rand.Rand

	faults     [numFaults]atomic.Int64
	byPhone    map[string][]Fault // under mu: the faults of the send requests that carried each phone, in order
	other      atomic.Int64       // requests passed through without chaos
	incomplete atomic.Int64       // send requests whose body never fully arrived
	upstream   atomic.Int64       // forwards that failed (the fake did not answer)
}

// NewProxy starts a proxy to target that stops when tb's test ends.
func NewProxy(tb testing.TB, name, target string, isSend func(*http.Request) bool, rates Rates, seed uint64) *Proxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatalf("faultsuite: proxy %s: target %q: %v", name, target, err)
	}
	sum := 0.0
	for _, r := range rates[1:] {
		sum += r
	}
	if sum > 1 {
		tb.Fatalf("faultsuite: proxy %s: fault rates add up to %g, more than 1", name, sum)
	}
	p := &Proxy{name: name, target: u, isSend: isSend, rates: rates, stop: make(chan struct{}),
		rng:     rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		byPhone: map[string][]Fault{},
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(func() {
		close(p.stop) // releases hanging handlers, or Close would wait for them
		p.srv.Close()
		p.client.CloseIdleConnections()
	})
	return p
}

// URL is the proxy's base URL, to put in an account's base_url.
func (p *Proxy) URL() string { return p.srv.URL }

// Count returns how many send requests got fault f (Pass: passed).
func (p *Proxy) Count(f Fault) int64 { return p.faults[f].Load() }

// Sends counts the send requests the proxy saw.
func (p *Proxy) Sends() int64 {
	n := int64(0)
	for f := range numFaults {
		n += p.faults[f].Load()
	}
	return n + p.incomplete.Load()
}

// Other counts requests passed through without chaos (tokens, lookups).
func (p *Proxy) Other() int64 { return p.other.Load() }

// Incomplete counts send requests whose body broke off (the client died
// while writing it); they are not forwarded.
func (p *Proxy) Incomplete() int64 { return p.incomplete.Load() }

// SendsTo returns the faults of the send requests whose body the proxy
// read (every fault but the refusals and resets, which answer before
// reading it) that carried phone (digits only), in the order they came.
func (p *Proxy) SendsTo(phone string) []Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Fault(nil), p.byPhone[phone]...)
}

// record notes that a send request with fault f carried the phones in
// body.
func (p *Proxy) record(f Fault, body []byte) {
	phones := phonesIn(body)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ph := range phones {
		p.byPhone[ph] = append(p.byPhone[ph], f)
	}
}

// phonesIn returns the Korean mobile numbers (digits only) in a JSON send
// body, whatever the provider calls the field: every string that is
// digits and hyphens and reads 010 and 8 digits. The suite gives every
// recipient a number of its own and sends no other such string.
func phonesIn(body []byte) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			if d := strings.ReplaceAll(v, "-", ""); len(d) == 11 && strings.HasPrefix(d, "010") && strings.Trim(d, "0123456789") == "" {
				out = append(out, d)
			}
		}
	}
	walk(v)
	return out
}

// UpstreamErrors counts forwards the fake did not answer.
func (p *Proxy) UpstreamErrors() int64 { return p.upstream.Load() }

func (p *Proxy) pick() Fault {
	p.mu.Lock()
	u := p.rng.Float64()
	p.mu.Unlock()
	for _, f := range Faults {
		if u < p.rates[f] {
			return f
		}
		u -= p.rates[f]
	}
	return Pass
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if !p.isSend(r) {
		p.other.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		p.relay(w, r, body)
		return
	}
	f := p.pick()
	switch f {
	case RateLimited:
		p.faults[f].Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "429 Too Many Requests (faultsuite proxy)", http.StatusTooManyRequests)
		return
	case Unavailable:
		p.faults[f].Add(1)
		http.Error(w, "503 Service Unavailable (faultsuite proxy)", http.StatusServiceUnavailable)
		return
	case Reset:
		p.faults[f].Add(1)
		reset(w)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.incomplete.Add(1)
		return
	}
	p.faults[f].Add(1)
	p.record(f, body)
	switch f {
	case HangBefore:
		p.hang(r)
	case BadGatewayAfter:
		if _, _, err := p.forward(r, body); err != nil {
			p.upstream.Add(1)
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
	case HangAfter:
		if _, _, err := p.forward(r, body); err != nil {
			p.upstream.Add(1)
		}
		p.hang(r)
	default:
		p.relay(w, r, body)
	}
}

// relay forwards r and copies the fake's answer back.
func (p *Proxy) relay(w http.ResponseWriter, r *http.Request, body []byte) {
	resp, data, err := p.forward(r, body)
	if err != nil {
		p.upstream.Add(1)
		reset(w)
		return
	}
	for k, vs := range resp.Header {
		if k == "Content-Length" {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(data)
}

// forward sends r to the fake and reads its whole answer. It does not
// stop when the client goes away: once forwarded, a request is the
// provider's, as it would be on the real network.
func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	u := *p.target
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	out.Header = r.Header.Clone()
	for _, h := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		out.Header.Del(h)
	}
	resp, err := p.client.Do(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, data, nil
}

// hang holds the request until the client goes away or the proxy stops.
func (p *Proxy) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.stop:
	}
}

// reset closes the client's connection without an answer, with a TCP
// reset where it can.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("faultsuite: the proxy's ResponseWriter cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}
