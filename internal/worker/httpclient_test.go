package worker_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/talkrelay/talkrelay/internal/worker"
)

// The provider requests are traced, but no trace context is sent to the
// providers, even when the process has a global propagator.
func TestProviderRequestsCarryNoTraceHeaders(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	defer otel.SetTextMapPropagator(prev)

	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer srv.Close()
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(t.Context()) }()
	ctx, span := tp.Tracer("test").Start(t.Context(), "talkrelay.send")
	defer span.End()
	if !span.SpanContext().IsSampled() {
		t.Fatal("the test's span is not sampled")
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	resp, err := worker.NewHTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if h := <-got; h.Get("traceparent") != "" || h.Get("baggage") != "" {
		t.Errorf("provider request carried trace headers: traceparent %q, baggage %q", h.Get("traceparent"), h.Get("baggage"))
	}
}
