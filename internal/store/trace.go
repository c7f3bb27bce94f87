package store

import (
	"context"
	"encoding/hex"
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
	parent, state := traceHeaders(span.SpanContext())
	if parent == "" {
		return
	}
	h[traceparentHeader] = []string{parent}
	if state != "" {
		h[tracestateHeader] = []string{state}
	}
}

// The W3C trace context headers, in lower case as propagator writes them.
const traceparentHeader, tracestateHeader = "traceparent", "tracestate"

// traceHeaders returns the W3C traceparent and tracestate values of sc,
// as propagator (TraceContext.Inject) writes them, in one allocation (a
// result message carries them, for every recipient); "" for an invalid
// context or an empty trace state.
func traceHeaders(sc trace.SpanContext) (parent, state string) {
	if !sc.IsValid() {
		return "", ""
	}
	var b [traceparentLen]byte
	return string(appendTraceparent(b[:0], sc)), sc.TraceState().String()
}

// traceparentLen is the length of a traceparent value (version 00).
const traceparentLen = len("00-") + 32 + 1 + 16 + 1 + 2

// appendTraceparent appends the traceparent value of sc, a valid context.
func appendTraceparent(b []byte, sc trace.SpanContext) []byte {
	tid, sid := sc.TraceID(), sc.SpanID()
	flags := byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom)) // the flags the spec defines
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, tid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, sid[:])
	b = append(b, '-')
	return hex.AppendEncode(b, []byte{flags})
}
