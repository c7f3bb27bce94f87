package dispatch

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/result"
)

type recordedFeedback struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordedFeedback) Throttled(retryAfter time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, retryAfter)
	return nil
}

func TestDispatcherTellsTheLimiterWhenTheProviderThrottles(t *testing.T) {
	t.Parallel()
	answers := map[string]func(*providers.Batch) ([]providers.Outcome, error){
		"ok": acceptAll,
		"429": func(*providers.Batch) ([]providers.Outcome, error) {
			return nil, &providers.Error{Provider: "fake", Class: providers.Retryable, Reason: result.ReasonRateLimited, HTTPStatus: 429, RetryAfter: 3 * time.Second}
		},
		"quota code": func(b *providers.Batch) ([]providers.Outcome, error) {
			out, _ := acceptAll(b)
			out[1] = providers.Outcome{Class: providers.Retryable, Reason: result.ReasonRateLimited, Code: "B004"}
			return out, nil
		},
		"503 retry-after": func(*providers.Batch) ([]providers.Outcome, error) {
			return nil, &providers.Error{Provider: "fake", Class: providers.Retryable, Reason: result.ReasonProviderUnavailable, HTTPStatus: 503, RetryAfter: time.Second}
		},
		"500": func(*providers.Batch) ([]providers.Outcome, error) {
			return nil, &providers.Error{Provider: "fake", Class: providers.Retryable, Reason: result.ReasonProviderUnavailable, HTTPStatus: 500}
		},
	}
	want := map[string][]time.Duration{"ok": nil, "429": {3 * time.Second}, "quota code": {0}, "503 retry-after": {time.Second}, "500": nil}
	for name, answer := range answers {
		fb := &recordedFeedback{}
		a := &Account{Name: "a", Provider: "fake", Client: &fakeProvider{limit: 10, answer: answer}, Limiter: ratelimit.NewLocal(ratelimit.Config{}, 10),
			MaxConcurrency: 1, RequestTimeout: time.Second, Feedback: fb}
		d := New(Config{Linger: time.Hour, Tracer: noop.NewTracerProvider().Tracer(""), Log: zerolog.Nop()},
			[]*Account{a}, func(*Item, *providers.Outcome, time.Time) {})
		d.Submit(items("j", "a", 2, job.AlimTalk))
		_ = d.Close(context.Background())
		if !slices.Equal(fb.waits, want[name]) {
			t.Errorf("%s: limiter told %v, want %v", name, fb.waits, want[name])
		}
	}
}
