package providers

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/talkrelay/talkrelay/internal/result"
)

// What every HTTP adapter needs to classify a round trip the same way.

// MaxRetryAfter caps a provider's Retry-After.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads a Retry-After header value, delay-seconds or an HTTP
// date, relative to now. It is 0 when absent, malformed or past, and at
// most MaxRetryAfter.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(min(n, int64(MaxRetryAfter/time.Second)))*time.Second, MaxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// TraceWrite returns ctx with a trace that records whether a request made
// with it was completely written, and the func that tells.
func TraceWrite(ctx context.Context) (context.Context, func() bool) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	return httptrace.WithClientTrace(ctx, trace), wrote.Load
}

// TransportError classifies a round trip that got no complete answer.
// Before the request was written nothing can have reached the provider:
// retryable. After, the provider may have taken it: unknown, with reason
// timeout when a deadline passed.
func TransportError(provider string, err error, written bool) *Error {
	e := &Error{Provider: provider, Err: err}
	if !written {
		e.Class, e.Reason, e.Message = Retryable, result.ReasonProviderUnavailable, "request not sent"
		return e
	}
	e.Class, e.Reason, e.Message = Unknown, result.ReasonOutcomeUnknown, "no complete answer after the request was written; look it up, do not resend"
	var ne interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e.Reason = result.ReasonTimeout
	}
	return e
}
