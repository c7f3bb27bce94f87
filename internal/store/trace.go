package store

import (
	"context"
	"net/textproto"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

var propagator = propagation.TraceContext{}

// headerCarrier adapts NATS headers for trace propagation. nats.Header
// lookups are case-sensitive and other clients write "traceparent" in lower
// case, so Get falls back to a case-insensitive search, and Set writes the
// lower-case W3C names.
type headerCarrier nats.Header

func (h headerCarrier) Get(key string) string {
	if v := nats.Header(h).Get(key); v != "" {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (h headerCarrier) Set(key, value string) { h[strings.ToLower(key)] = []string{value} }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, textproto.CanonicalMIMEHeaderKey(k))
	}
	return keys
}

// ExtractTrace returns ctx carrying the trace context found in h (a job
// message's headers), if any: the reading side of the trace headers the
// messages built here carry.
func ExtractTrace(ctx context.Context, h nats.Header) context.Context {
	if h == nil {
		return ctx
	}
	return propagator.Extract(ctx, headerCarrier(h))
}

// InjectTrace writes span's context into h (a message's headers).
func InjectTrace(span trace.Span, h nats.Header) {
	propagator.Inject(trace.ContextWithSpan(context.Background(), span), headerCarrier(h))
}
