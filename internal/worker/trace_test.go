package worker_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/tracing"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// otlpReceiver is an OTLP/HTTP trace endpoint that decodes what it is
// sent.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	var export coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(data, &export)
	}
	if req.URL.Path != "/v1/traces" || err != nil {
		http.Error(rw, "bad export", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range export.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	rw.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = rw.Write(out)
}

// span returns the first span named name of trace traceID.
func (r *otlpReceiver) span(traceID []byte, name string) *tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.spans {
		if s.Name == name && bytes.Equal(s.TraceId, traceID) {
			return s
		}
	}
	return nil
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, one sampled job's trace reaches an
// OTLP receiver with its receive span (a child of the producer's, linking
// to it), the provider request's span linking to it with the HTTP
// request's client span under it, and its result's publish span.
func TestTracesAreExportedOverOTLP(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
	tp, err := tracing.Start(t.Context(), "talkrelay-worker-test")
	if err != nil || tp == nil {
		t.Fatalf("tracing.Start = %v, %v; want a provider", tp, err)
	}
	defer func() { _ = tp.Shutdown(context.Background()) }()

	e := newEnv(t)
	naverAPI := naverfake.New(t)
	// The worker's preflight and template guard find them.
	naverAPI.AddChannel(naverfake.Channel{ChannelID: "@talkrelay-shop"})
	naverAPI.AddTemplate(naverfake.Template{ChannelID: "@talkrelay-shop", Code: "ORDER_SHIPPED"})
	// The worker's own HTTP client (no Options.HTTPClient): its requests
	// are traced.
	e.startWith(e.config(providerAccount(t, "acct", "naver", naverAPI.URL(), "@talkrelay-shop",
		map[string]string{"access_key": naverfake.AccessKey, "secret_key": naverfake.SecretKey},
		map[string]any{"service_id": naverfake.ServiceID})), worker.Options{Tracer: tp.Tracer("test")})
	traceID, _ := hex.DecodeString("4bf92f3577b34da6a3ce929d0e0e4736")
	producerSpan, _ := hex.DecodeString("00f067aa0ba902b7")
	j := &job.Job{Version: 1, ID: "traced", Account: "acct", Kind: job.AlimTalk, Template: "ORDER_SHIPPED",
		Recipients: []job.Recipient{{Ref: "r0", Phone: "010-1111-0100", Content: "주문하신 상품이 발송되었습니다.\n주문번호: 2000"}}}
	data, err := j.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(streams.JobSubject(j.Account, string(j.Kind)))
	m.Data = data
	m.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	e.results(1, 30*time.Second)

	var job, send, request, publish *tracepb.Span
	waitFor(t, 30*time.Second, "the job's receive, provider, HTTP and publish spans at the receiver", func() bool {
		_ = tp.ForceFlush(t.Context())
		job, publish = recv.span(traceID, "talkrelay.job"), recv.span(traceID, "talkrelay.results publish")
		recv.mu.Lock()
		for _, s := range recv.spans {
			if s.Name == "talkrelay.send" {
				send = s
			}
		}
		for _, s := range recv.spans {
			if send != nil && bytes.Equal(s.ParentSpanId, send.SpanId) {
				request = s
			}
		}
		recv.mu.Unlock()
		return job != nil && send != nil && request != nil && publish != nil
	})
	if !bytes.Equal(job.ParentSpanId, producerSpan) || job.Kind != tracepb.Span_SPAN_KIND_CONSUMER {
		t.Errorf("receive span: parent %x kind %v; want the producer's span %x, consumer", job.ParentSpanId, job.Kind, producerSpan)
	}
	if len(job.Links) != 1 || !bytes.Equal(job.Links[0].TraceId, traceID) || !bytes.Equal(job.Links[0].SpanId, producerSpan) {
		t.Errorf("receive span links %v; want one, to the producer's span %x", job.Links, producerSpan)
	}
	jobAttrs := map[string]string{}
	for _, a := range job.Attributes {
		jobAttrs[a.Key] = a.Value.GetStringValue()
	}
	if jobAttrs["messaging.system"] != "nats" || jobAttrs["messaging.operation.type"] != "process" || jobAttrs["messaging.destination.name"] == "" {
		t.Errorf("receive span attributes %v; want the messaging conventions'", jobAttrs)
	}
	attrs := map[string]string{}
	for _, a := range request.Attributes {
		switch v := a.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			attrs[a.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			attrs[a.Key] = strconv.FormatInt(v.IntValue, 10)
		}
	}
	host, _, _ := net.SplitHostPort(strings.TrimPrefix(naverAPI.URL(), "http://"))
	if request.Kind != tracepb.Span_SPAN_KIND_CLIENT || !bytes.Equal(request.TraceId, send.TraceId) ||
		attrs["http.request.method"] != http.MethodPost || attrs["server.address"] != host || attrs["http.response.status_code"] != "202" {
		t.Errorf("HTTP request span under talkrelay.send: kind %v, trace %x (send's %x), attributes %v; want client, POST to %s answered 202",
			request.Kind, request.TraceId, send.TraceId, attrs, host)
	}
	linked := false
	for _, l := range send.Links {
		linked = linked || bytes.Equal(l.TraceId, traceID) && bytes.Equal(l.SpanId, job.SpanId)
	}
	if !linked || send.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("provider request span (kind %v) does not link to the job's span: links %v", send.Kind, send.Links)
	}
	if !bytes.Equal(publish.ParentSpanId, job.SpanId) || publish.Kind != tracepb.Span_SPAN_KIND_PRODUCER {
		t.Errorf("publish span: parent %x kind %v; want the job's span %x, producer", publish.ParentSpanId, publish.Kind, job.SpanId)
	}
}

// Without an endpoint in the environment, nothing is exported.
func TestTracingIsOffWithoutAnEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	if tp, err := tracing.Start(t.Context(), "x"); tp != nil || err != nil {
		t.Errorf("tracing.Start = %v, %v; want off", tp, err)
	}
}

// With the default tracer, a job whose producer's trace is not sampled
// keeps that trace: its results carry its trace id, its trace state and
// its flags (not sampled), under a span of the worker's; a job without a
// traceparent gets a trace of its own.
func TestUnsampledProducerTraceIsKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(e.config(sandboxAccount("acct", nil)))
	traced := testJob("unsampled", "acct", 2)
	data, err := traced.Encode()
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(streams.JobSubject(traced.Account, string(traced.Kind)))
	m.Data = data
	m.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00") // any case
	m.Header.Set("tracestate", "vendor=abc")
	if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	e.publishJob(testJob("untraced", "acct", 1))

	type stored struct{ traceparent, tracestate, traceID, jobID string }
	got := readStream(t, e.js, streams.ResultsStream, 3, 30*time.Second, func(m jetstream.Msg) stored {
		var ev result.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatalf("result event: %v", err)
		}
		return stored{m.Headers().Get("traceparent"), m.Headers().Get("tracestate"), ev.TraceID, ev.JobID}
	})
	for _, s := range got {
		parts := strings.Split(s.traceparent, "-")
		if len(parts) != 4 || parts[1] != s.traceID || parts[2] == "00f067aa0ba902b7" || parts[2] == strings.Repeat("0", 16) || parts[3] != "00" {
			t.Errorf("result of %s: traceparent %q, trace_id %q; want the trace id, a span of the worker's, not sampled", s.jobID, s.traceparent, s.traceID)
		}
		switch s.jobID {
		case "unsampled":
			if s.traceID != "4bf92f3577b34da6a3ce929d0e0e4736" || s.tracestate != "vendor=abc" {
				t.Errorf("result of the traced job: trace %q, tracestate %q; want the producer's", s.traceID, s.tracestate)
			}
		case "untraced":
			if s.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" || s.tracestate != "" {
				t.Errorf("result of the untraced job: trace %q, tracestate %q; want a trace of its own", s.traceID, s.tracestate)
			}
		}
	}
}
