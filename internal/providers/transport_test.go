package providers

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/result"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"7", 7 * time.Second}, {" 120 ", 2 * time.Minute}, {"0", 0}, {"-3", 0}, {"soon", 0},
		{"99999999", MaxRetryAfter}, {"9223372036854775807", MaxRetryAfter},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-30 * time.Second).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
	} {
		if got := RetryAfter(tc.in, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestTransportError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err     error
		written bool
		class   Class
		reason  result.Reason
	}{
		{errors.New("connection refused"), false, Retryable, result.ReasonProviderUnavailable},
		{context.DeadlineExceeded, false, Retryable, result.ReasonProviderUnavailable},
		{context.DeadlineExceeded, true, Unknown, result.ReasonTimeout},
		{errors.New("connection reset by peer"), true, Unknown, result.ReasonOutcomeUnknown},
	} {
		e := TransportError("p", tc.err, tc.written)
		if e.Class != tc.class || e.Reason != tc.reason || !errors.Is(e, tc.err) {
			t.Errorf("TransportError(%v, written=%v) = %s/%s, want %s/%s", tc.err, tc.written, e.Class, e.Reason, tc.class, tc.reason)
		}
	}
}
