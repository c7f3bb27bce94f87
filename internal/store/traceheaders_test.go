package store

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// InjectTrace formats the W3C headers itself (fewer allocations per
// result): they must be what propagation.TraceContext writes.
func TestInjectTraceWritesWhatTheW3CPropagatorWrites(t *testing.T) {
	t.Parallel()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	state, err := trace.ParseTraceState("vendor=abc,other=x-1")
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]trace.SpanContextConfig{
		"sampled":      {TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled},
		"not sampled":  {TraceID: tid, SpanID: sid},
		"other flags":  {TraceID: tid, SpanID: sid, TraceFlags: 0xff},
		"trace state":  {TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: state},
		"invalid":      {TraceID: tid},
		"remote valid": {TraceID: tid, SpanID: sid, Remote: true},
	} {
		ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(cfg))
		want := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, want)
		got := nats.Header{}
		InjectTrace(trace.SpanFromContext(ctx), got)
		if len(got) != len(want) {
			t.Errorf("%s: headers %v, want %v", name, got, want)
		}
		for k, v := range want {
			if g := got[k]; len(g) != 1 || g[0] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, g, v)
			}
		}
	}
}
