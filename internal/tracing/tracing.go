// Package tracing exports the worker's traces over OTLP, configured the
// standard OpenTelemetry way: by the OTEL_* environment variables
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME, …).
// Export is off when no endpoint is set.
package tracing

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/talkrelay/talkrelay/internal/buildinfo"
)

// Enabled reports whether the environment asks for trace export: an OTLP
// endpoint is set, and neither OTEL_SDK_DISABLED nor OTEL_TRACES_EXPORTER
// (none) turns it off.
func Enabled() bool {
	if os.Getenv("OTEL_SDK_DISABLED") == "true" || os.Getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Start returns a tracer provider that exports over OTLP as the environment
// says, or nil when export is off: over HTTP (protobuf) by default, over
// gRPC when OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, or else
// OTEL_EXPORTER_OTLP_PROTOCOL, is grpc. The sampler is
// OTEL_TRACES_SAMPLER's (default parentbased_always_on); service.name
// defaults to service, which OTEL_SERVICE_NAME overrides. Shut the
// provider down before exiting: that sends the spans still buffered.
func Start(ctx context.Context, service string) (*sdktrace.TracerProvider, error) {
	if !Enabled() {
		return nil, nil
	}
	var exp sdktrace.SpanExporter
	var err error
	switch v, p := protocol(); p {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("%s=%s: talkrelay exports traces over http/protobuf or grpc", v, p)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service), attribute.String("service.version", buildinfo.Version())),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// protocol is the OTLP protocol the environment asks for traces, and the
// variable that says it: the traces' own variable before the general one.
func protocol() (variable, value string) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(v); p != "" {
			return v, p
		}
	}
	return "", ""
}
