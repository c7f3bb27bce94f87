package worker

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/talkrelay/talkrelay/internal/buildinfo"
	"github.com/talkrelay/talkrelay/internal/result"
)

// metrics are the worker's OpenTelemetry instruments, exported for
// Prometheus on /metrics:
//
//	talkrelay_results_total{account,provider,status,reason}
//	talkrelay_provider_requests_total{account,provider,outcome}
//	talkrelay_provider_request_duration_seconds{account,provider}
//	talkrelay_batch_recipients{account,provider}
//	talkrelay_jobs_in_flight
//	talkrelay_jobs_held                       job messages this replica holds, started or not
//	talkrelay_jobs_duplicate_total{account}   jobs published again and not sent again
//	talkrelay_jobs_lost_total                 jobs given up: held past their ack wait (see fence.go)
//	talkrelay_build_info{version,goversion}   always 1: the running build
type metrics struct {
	attrs      sync.Map // attrKey -> metric.MeasurementOption
	registry   *prometheus.Registry
	provider   *sdkmetric.MeterProvider
	results    metric.Int64Counter
	requests   metric.Int64Counter
	duration   metric.Float64Histogram
	batchSizes metric.Int64Histogram
	duplicates metric.Int64Counter
	lostJobs   metric.Int64Counter
}

func newMetrics(inFlight, held func() int) (*metrics, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "talkrelay_build_info",
		Help:        "Always 1; the labels say which build of the worker runs.",
		ConstLabels: prometheus.Labels{"version": buildinfo.Version(), "goversion": runtime.Version()},
	}, func() float64 { return 1 }))
	m := &metrics{registry: reg, provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))}
	meter := m.provider.Meter("github.com/talkrelay/talkrelay/worker")
	if m.results, err = meter.Int64Counter("talkrelay.results", metric.WithDescription("Result events stored, by status and reason.")); err != nil {
		return nil, err
	}
	if m.requests, err = meter.Int64Counter("talkrelay.provider.requests", metric.WithDescription("Provider requests made, by outcome (ok or the failure class).")); err != nil {
		return nil, err
	}
	if m.duration, err = meter.Float64Histogram("talkrelay.provider.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Provider request latency."),
		metric.WithExplicitBucketBoundaries(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)); err != nil {
		return nil, err
	}
	if m.batchSizes, err = meter.Int64Histogram("talkrelay.batch.recipients", metric.WithDescription("Recipients per provider request."),
		metric.WithExplicitBucketBoundaries(1, 10, 50, 100, 250, 500, 1000)); err != nil {
		return nil, err
	}
	if m.duplicates, err = meter.Int64Counter("talkrelay.jobs.duplicate", metric.WithDescription("Jobs published again after NATS forgot their id, acknowledged without sending.")); err != nil {
		return nil, err
	}
	if m.lostJobs, err = meter.Int64Counter("talkrelay.jobs.lost", metric.WithDescription("Jobs given up because this replica held them past their ack wait without a confirmed keep-alive (paused or cut off from NATS).")); err != nil {
		return nil, err
	}
	if _, err = meter.Int64ObservableGauge("talkrelay.jobs.held", metric.WithDescription("Job messages this replica holds, started or waiting to start."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(held()))
			return nil
		})); err != nil {
		return nil, err
	}
	_, err = meter.Int64ObservableGauge("talkrelay.jobs.in_flight", metric.WithDescription("Jobs received and not yet acknowledged."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(inFlight()))
			return nil
		}))
	return m, err
}

// duplicate counts a job dropped as published again; account is a
// configured account's name.
func (m *metrics) duplicate(account string) {
	m.duplicates.Add(context.Background(), 1, metric.WithAttributes(attribute.String("account", account)))
}

// lost counts a job given up by this replica (see Worker.lose).
func (m *metrics) lost() { m.lostJobs.Add(context.Background(), 1) }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// attrKey names one attribute set; sets are built once and reused, since
// every result and request records one.
type attrKey struct{ account, provider, third, fourth string }

func (m *metrics) set(k attrKey, names ...string) metric.MeasurementOption {
	if o, ok := m.attrs.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	kv := []attribute.KeyValue{attribute.String("account", k.account), attribute.String("provider", k.provider)}
	for i, v := range []string{k.third, k.fourth}[:len(names)] {
		kv = append(kv, attribute.String(names[i], v))
	}
	o, _ := m.attrs.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(kv...)))
	return o.(metric.MeasurementOption)
}

// otherAccount labels results of jobs for accounts this worker does not
// serve: their names come from producers, and labels must not.
const otherAccount = "_other"

func (m *metrics) result(ev *result.Event, configured bool) {
	account := ev.Account
	if !configured {
		account = otherAccount
	}
	m.results.Add(context.Background(), 1, m.set(attrKey{account, ev.Provider, string(ev.Status), string(ev.Reason)}, "status", "reason"))
}

// request records one provider call; outcome is "ok" or the failure class.
func (m *metrics) request(account, provider string, recipients int, took time.Duration, outcome string) {
	ctx := context.Background()
	m.requests.Add(ctx, 1, m.set(attrKey{account, provider, outcome, ""}, "outcome"))
	attrs := m.set(attrKey{account, provider, "", ""})
	m.duration.Record(ctx, took.Seconds(), attrs)
	m.batchSizes.Record(ctx, int64(recipients), attrs)
}
