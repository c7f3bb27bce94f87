package worker

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// defaultTracer is the worker's tracer when Options.Tracer is not set: it
// exports nothing and records a job's spans only when the producer's trace
// is sampled (parent-based, never sampling a root); the rest still get
// trace ids, which result events carry. The worker starts the spans this
// tracer would not record itself (unrecordedChild).
func defaultTracer() trace.Tracer {
	return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample()))).
		Tracer("github.com/talkrelay/talkrelay/worker")
}

// jobSpanKind starts the span of a job.
var jobSpanKind = trace.WithSpanKind(trace.SpanKindConsumer)

// startJobSpan starts the span of a job published to subject, as a child
// of the producer's span in ctx, if any. With the default tracer, a span
// it would not record is own, made without it: the SDK's span costs two
// allocations and its sampler for nothing but ids.
//
// The OpenTelemetry messaging conventions ask a consumer's "process" span
// to link to the message's creation context (the producer's traceparent):
// it does. They do not make that context the parent (their examples have
// none), nor forbid it: talkrelay keeps it as the parent too, so that the
// producer's sampling decision holds (parent-based samplers) and the job's
// results carry its trace id, as the README promises producers.
//
// Links and attributes are added only to a span that is recorded (most
// are not: see Options.Tracer), which spares building them for every job;
// no sampler talkrelay configures looks at them.
func (w *Worker) startJobSpan(ctx context.Context, own *unrecordedSpan, subject string) trace.Span {
	parent := trace.SpanContextFromContext(ctx)
	if w.defaultTracer && !parent.IsSampled() {
		*own = unrecordedSpan{Span: noSpan, sc: unrecordedChild(parent)}
		return own
	}
	_, span := w.tracer.Start(ctx, "talkrelay.job", jobSpanKind)
	if span.IsRecording() {
		if parent.IsValid() {
			span.AddLink(trace.Link{SpanContext: parent})
		}
		span.SetAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", subject))
	}
	return span
}

// An unrecordedSpan is a span that is not recorded: only its context
// (ids, flags, trace state) is kept, for the job's results.
type unrecordedSpan struct {
	trace.Span // noSpan, for what records
	sc         trace.SpanContext
}

// noSpan records nothing.
var noSpan trace.Span = noop.Span{}

func (s *unrecordedSpan) SpanContext() trace.SpanContext { return s.sc }

// unrecordedChild is the context the SDK gives a span it does not sample,
// child of parent (the zero context for none): parent's trace id, or a new
// random one; a new random span id; parent's trace flags without
// "sampled"; parent's trace state. The ids are drawn as the SDK's default
// ID generator draws them.
func unrecordedChild(parent trace.SpanContext) trace.SpanContext {
	tid := parent.TraceID()
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid,
		TraceFlags: parent.TraceFlags() &^ trace.FlagsSampled, TraceState: parent.TraceState()})
}
