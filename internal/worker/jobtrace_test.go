package worker

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/store"
)

// The spans the worker starts itself for the default tracer are the ones
// the SDK would start: same trace id, flags, trace state and remoteness,
// a fresh span id, not recorded; a span the SDK records is the SDK's.
func TestUnrecordedJobSpansAreTheSDKs(t *testing.T) {
	for _, h := range []nats.Header{
		nil,
		{"Nats-Msg-Id": {"order-1"}},
		{"traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}},
		{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"}, "tracestate": {"vendor=abc,other=x"}},
		{"traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, "tracestate": {"vendor=abc"}},
		{"traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"}},
		{"traceparent": {"00-00000000000000000000000000000000-00f067aa0ba902b7-00"}},
		{"traceparent": {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}},
		{"traceparent": {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra"}},
	} {
		compareJobSpans(t, h)
	}
}

// FuzzUnrecordedJobSpans compares the worker's own spans with the SDK's
// for any trace headers a producer may send.
func FuzzUnrecordedJobSpans(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "vendor=abc")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, traceparent, tracestate string) {
		compareJobSpans(t, nats.Header{"traceparent": {traceparent}, "tracestate": {tracestate}})
	})
}

func compareJobSpans(t *testing.T, h nats.Header) {
	t.Helper()
	ctx := store.ExtractTrace(context.Background(), h)
	sdk := (&Worker{tracer: defaultTracer()}).startJobSpan(ctx, new(unrecordedSpan), "talkrelay.jobs.shop.alimtalk")
	var own unrecordedSpan
	got := (&Worker{tracer: defaultTracer(), defaultTracer: true}).startJobSpan(ctx, &own, "talkrelay.jobs.shop.alimtalk")
	parent, want, sc := trace.SpanContextFromContext(ctx), sdk.SpanContext(), got.SpanContext()
	if sdk.IsRecording() {
		if got == trace.Span(&own) || !got.IsRecording() {
			t.Errorf("headers %v: the SDK records the span, the worker's is its own", h)
		}
		return
	}
	if got != trace.Span(&own) || got.IsRecording() {
		t.Errorf("headers %v: the SDK does not record the span; the worker's is %T, recording %v", h, got, got.IsRecording())
	}
	if !sc.IsValid() || sc.TraceFlags() != want.TraceFlags() || sc.TraceState().String() != want.TraceState().String() ||
		sc.IsRemote() != want.IsRemote() || sc.SpanID() == parent.SpanID() {
		t.Errorf("headers %v: span context %+v, the SDK's %+v", h, sc, want)
	}
	if parent.IsValid() != (sc.TraceID() == want.TraceID()) {
		t.Errorf("headers %v: trace %s, the SDK's %s; the same only for a producer's trace", h, sc.TraceID(), want.TraceID())
	}
	if parent.IsValid() && sc.TraceID() != parent.TraceID() {
		t.Errorf("headers %v: trace %s, not the producer's %s", h, sc.TraceID(), parent.TraceID())
	}
}
