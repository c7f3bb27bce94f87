package tracing_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/talkrelay/talkrelay/internal/tracing"
)

// grpcReceiver is the OTLP collector's gRPC trace service: it keeps the
// names of the spans it is sent.
type grpcReceiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (r *grpcReceiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.names = append(r.names, s.Name)
			}
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (r *grpcReceiver) has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.names {
		if n == name {
			return true
		}
	}
	return false
}

// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc exports over gRPC, even when the
// general OTEL_EXPORTER_OTLP_PROTOCOL says http/protobuf.
func TestTracesAreExportedOverGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv := &grpcReceiver{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, recv)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
	t.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	tp, err := tracing.Start(t.Context(), "talkrelay-worker-test")
	if err != nil || tp == nil {
		t.Fatalf("tracing.Start = %v, %v; want a provider", tp, err)
	}
	defer func() { _ = tp.Shutdown(context.Background()) }()
	_, span := tp.Tracer("test").Start(t.Context(), "over-grpc")
	span.End()
	deadline := time.Now().Add(30 * time.Second)
	for !recv.has("over-grpc") {
		if time.Now().After(deadline) {
			t.Fatal("the span never reached the gRPC receiver")
		}
		_ = tp.ForceFlush(t.Context())
		time.Sleep(20 * time.Millisecond)
	}
}

// A protocol talkrelay does not export over is refused, naming it.
func TestUnsupportedProtocolIsRefused(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	if tp, err := tracing.Start(t.Context(), "x"); tp != nil || err == nil {
		t.Errorf("tracing.Start = %v, %v; want an error naming http/json", tp, err)
	}
}
