package worker

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/talkrelay/talkrelay/internal/buildinfo"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/result"
)

// metrics are the worker's OpenTelemetry instruments, exported for
// Prometheus on /metrics:
//
//	talkrelay_results_total{account,provider,status,reason}
//	talkrelay_provider_requests_total{account,provider,outcome}
//	talkrelay_provider_request_duration_seconds{account,provider,outcome}
//	talkrelay_batch_recipients{account,provider}
//	talkrelay_jobs_in_flight
//	talkrelay_jobs_held                       job messages this replica holds, started or not
//	talkrelay_jobs_duplicate_total{account}   jobs published again and not sent again
//	talkrelay_jobs_lost_total                 jobs given up: held past their ack wait (see fence.go)
//	talkrelay_jobs_redelivered_total{account} messages NATS delivered again
//	talkrelay_dead_letters_total{reason}      dead letters written
//	talkrelay_retries_scheduled_total{account} recipients put in a retry envelope
//	talkrelay_lookups_scheduled_total{account} recipients put in a lookup envelope
//	talkrelay_retries_due_total{account}      recipients of retry envelopes that came due
//	talkrelay_lookups_due_total{account}      recipients of lookup envelopes that came due
//	talkrelay_unknown_outcomes_total{account,provider} recipients a provider may or may not have taken
//	talkrelay_ratelimit_wait_seconds{account} time a request waited for the rate limiter
//	talkrelay_consumer_pending{account,lane}     lag: lane messages not yet delivered (see lag.go)
//	talkrelay_consumer_ack_pending{account,lane} lane messages delivered, not yet acknowledged
//	talkrelay_ready                           1 while /readyz answers ready
//	talkrelay_nats_connected                  1 while connected to NATS
//	talkrelay_nats_reconnects_total           reconnections to NATS
//	talkrelay_build_info{version,goversion}   always 1: the running build
//	go_*, process_*                           the Go runtime's and the process's
//
// Counters of known label values start at zero, so that increase() sees
// their first event.
type metrics struct {
	attrs      sync.Map // attrKey -> *attrSet
	registry   *prometheus.Registry
	provider   *sdkmetric.MeterProvider
	results    sync.Map // attrKey -> *resultCount: talkrelay_results_total, read when collected
	requests   metric.Int64Counter
	duration   metric.Float64Histogram
	batchSizes metric.Int64Histogram
	duplicates metric.Int64Counter
	lostJobs   metric.Int64Counter

	// lastResult is the counter result found last: a run of results
	// takes no lookup.
	lastResult atomic.Pointer[resultCount]

	redeliveries metric.Int64Counter
	deadLetters  metric.Int64Counter
	retries      metric.Int64Counter
	lookups      metric.Int64Counter
	retriesDue   metric.Int64Counter
	lookupsDue   metric.Int64Counter
	unknowns     metric.Int64Counter
	limiterWait  metric.Float64Histogram
	// lag is the last reading of the lanes' consumers (see watchLag).
	lag atomic.Pointer[[]laneLag]
}

// deadLetterReasons are the reason labels of talkrelay_dead_letters_total:
// why a whole job was rejected, poison (delivered max_deliver times), or
// gaveUp (recipients talkrelay stopped retrying or looking up).
var deadLetterReasons = []string{string(result.ReasonInvalidJob), string(result.ReasonUnknownAccount), string(result.ReasonOversized),
	string(result.ReasonDeadlineExceeded), string(result.ReasonPoison), gaveUp}

const gaveUp = "gave_up"

// newMetrics builds the instruments; accounts are the configured accounts
// and their providers (name -> provider), whose counters start at zero.
func newMetrics(inFlight, held func() int, ready func() bool, nc *nats.Conn, accounts map[string]string) (*metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
	if _, err = meter.Int64ObservableCounter("talkrelay.results", metric.WithDescription("Result events stored, by status and reason."),
		metric.WithInt64Callback(m.observeResults)); err != nil {
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
	if _, err = meter.Int64ObservableGauge("talkrelay.jobs.in_flight", metric.WithDescription("Jobs received and not yet acknowledged."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(inFlight()))
			return nil
		})); err != nil {
		return nil, err
	}
	if err = m.newSRE(meter, ready, nc); err != nil {
		return nil, err
	}
	ctx := context.Background()
	m.lostJobs.Add(ctx, 0)
	for name, provider := range accounts {
		acct := metric.WithAttributes(attribute.String("account", name))
		m.duplicates.Add(ctx, 0, acct)
		m.redeliveries.Add(ctx, 0, acct)
		m.retries.Add(ctx, 0, acct)
		m.lookups.Add(ctx, 0, acct)
		m.retriesDue.Add(ctx, 0, acct)
		m.lookupsDue.Add(ctx, 0, acct)
		m.unknowns.Add(ctx, 0, m.set(attrKey{name, provider, "", ""}).add...)
	}
	for _, reason := range deadLetterReasons {
		m.deadLetters.Add(ctx, 0, metric.WithAttributes(attribute.String("reason", reason)))
	}
	return m, nil
}

// newSRE builds the instruments an operator watches besides results and
// requests: backlog, redeliveries, dead letters, follow-ups, unknown
// outcomes, rate limiting and the connection to NATS.
func (m *metrics) newSRE(meter metric.Meter, ready func() bool, nc *nats.Conn) error {
	var err error
	if _, err = meter.Int64ObservableGauge("talkrelay.ready", metric.WithDescription("1 while /readyz answers ready (connected to NATS and consuming), else 0."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(boolGauge(ready()))
			return nil
		})); err != nil {
		return err
	}
	if m.redeliveries, err = meter.Int64Counter("talkrelay.jobs.redelivered", metric.WithDescription("Job and envelope messages NATS delivered again (a replica crashed, timed out or handed them back).")); err != nil {
		return err
	}
	if m.deadLetters, err = meter.Int64Counter("talkrelay.dead_letters", metric.WithDescription("Dead letters written, by reason.")); err != nil {
		return err
	}
	if m.retries, err = meter.Int64Counter("talkrelay.retries.scheduled", metric.WithDescription("Recipients scheduled for another attempt.")); err != nil {
		return err
	}
	if m.lookups, err = meter.Int64Counter("talkrelay.lookups.scheduled", metric.WithDescription("Recipients scheduled for a lookup of an unknown outcome.")); err != nil {
		return err
	}
	if m.retriesDue, err = meter.Int64Counter("talkrelay.retries.due", metric.WithDescription("Recipients of retry envelopes that came due and a worker took (first delivery only).")); err != nil {
		return err
	}
	if m.lookupsDue, err = meter.Int64Counter("talkrelay.lookups.due", metric.WithDescription("Recipients of lookup envelopes that came due and a worker took (first delivery only).")); err != nil {
		return err
	}
	if m.unknowns, err = meter.Int64Counter("talkrelay.unknown_outcomes", metric.WithDescription("Recipients whose provider request ended without telling whether the provider took them.")); err != nil {
		return err
	}
	if m.limiterWait, err = meter.Float64Histogram("talkrelay.ratelimit.wait", metric.WithUnit("s"),
		metric.WithDescription("Time a provider request waited for the account's rate limiter."),
		metric.WithExplicitBucketBoundaries(.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)); err != nil {
		return err
	}
	pending, err := meter.Int64ObservableGauge("talkrelay.consumer.pending", metric.WithDescription("Lag: messages of the lane's consumer not yet delivered to any replica (read every 15s; the same on every replica)."))
	if err != nil {
		return err
	}
	ackPending, err := meter.Int64ObservableGauge("talkrelay.consumer.ack_pending", metric.WithDescription("Messages of the lane's consumer delivered and not yet acknowledged (read every 15s; the same on every replica)."))
	if err != nil {
		return err
	}
	if _, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		lags := m.lag.Load()
		if lags == nil {
			return nil
		}
		for _, l := range *lags {
			attrs := metric.WithAttributes(attribute.String("account", l.account), attribute.String("lane", l.lane))
			o.ObserveInt64(pending, int64(l.pending), attrs)
			o.ObserveInt64(ackPending, int64(l.ackPending), attrs)
		}
		return nil
	}, pending, ackPending); err != nil {
		return err
	}
	if _, err = meter.Int64ObservableGauge("talkrelay.nats.connected", metric.WithDescription("1 while the worker is connected to NATS, else 0."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(boolGauge(nc.IsConnected()))
			return nil
		})); err != nil {
		return err
	}
	_, err = meter.Int64ObservableCounter("talkrelay.nats.reconnects", metric.WithDescription("Times the worker reconnected to NATS."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(nc.Stats().Reconnects))
			return nil
		}))
	return err
}

func boolGauge(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// accountLabel is account if it is configured, else otherAccount.
func (w *Worker) accountLabel(account string) string {
	if w.accounts[account] == nil {
		return otherAccount
	}
	return account
}

// redelivered counts a message NATS delivered again.
func (m *metrics) redelivered(account string) {
	m.redeliveries.Add(context.Background(), 1, metric.WithAttributes(attribute.String("account", account)))
}

// deadLetter counts a dead letter written; reason is one of
// deadLetterReasons.
func (m *metrics) deadLetter(reason string) {
	m.deadLetters.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", reason)))
}

// scheduled counts recipients put in a follow-up envelope of account.
func (m *metrics) scheduled(account string, lookup bool, recipients int) {
	c := m.retries
	if lookup {
		c = m.lookups
	}
	c.Add(context.Background(), int64(recipients), metric.WithAttributes(attribute.String("account", account)))
}

// due counts the recipients of an envelope of account that came due: retries
// those to send again, lookups those to look up.
func (m *metrics) due(account string, retries, lookups int) {
	acct := metric.WithAttributes(attribute.String("account", account))
	m.retriesDue.Add(context.Background(), int64(retries), acct)
	m.lookupsDue.Add(context.Background(), int64(lookups), acct)
}

// unknown counts a recipient whose provider outcome is unknown.
func (m *metrics) unknown(account, provider string) {
	m.unknowns.Add(context.Background(), 1, m.set(attrKey{account, provider, "", ""}).add...)
}

// timedLimiter records how long each admission of its limiter waited.
type timedLimiter struct {
	ratelimit.Limiter
	wait metric.Float64Histogram
	acct metric.MeasurementOption
}

func (m *metrics) timeLimiter(account string, l ratelimit.Limiter) ratelimit.Limiter {
	return &timedLimiter{Limiter: l, wait: m.limiterWait, acct: metric.WithAttributes(attribute.String("account", account))}
}

func (t *timedLimiter) Wait(ctx context.Context, n int) error {
	start := time.Now()
	err := t.Limiter.Wait(ctx, n)
	t.wait.Record(context.Background(), time.Since(start).Seconds(), t.acct)
	return err
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

// attrSet is one attribute set as the option lists Add and Record take:
// passed on with ..., a list is not copied, while a fresh variadic option
// escapes to the heap on every call.
type attrSet struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func (m *metrics) set(k attrKey, names ...string) *attrSet {
	if s, ok := m.attrs.Load(k); ok {
		return s.(*attrSet)
	}
	o := k.option(names...)
	s, _ := m.attrs.LoadOrStore(k, &attrSet{add: []metric.AddOption{o}, record: []metric.RecordOption{o}})
	return s.(*attrSet)
}

// option is k's attribute set, its third and fourth attributes (as many
// as names) named names.
func (k attrKey) option(names ...string) metric.MeasurementOption {
	kv := []attribute.KeyValue{attribute.String("account", k.account), attribute.String("provider", k.provider)}
	for i, v := range []string{k.third, k.fourth}[:len(names)] {
		kv = append(kv, attribute.String(names[i], v))
	}
	return metric.WithAttributeSet(attribute.NewSet(kv...))
}

// otherAccount labels results of jobs for accounts this worker does not
// serve: their names come from producers, and labels must not.
const otherAccount = "_other"

// resultCount counts the results of one attribute set. Results are
// counted once per recipient: an atomic add instead of an OpenTelemetry
// measurement (which looks up the set and locks its aggregation), read
// when the metrics are collected.
type resultCount struct {
	n     atomic.Int64
	attrs metric.ObserveOption
	// of and configured are what result was given when it made the
	// counter (of has the account before an unconfigured one became
	// otherAccount): what it counts, when lastResult, without a lookup.
	of         attrKey
	configured bool
}

// result counts a stored result.
func (m *metrics) result(ev *result.Event, configured bool) {
	of := attrKey{ev.Account, ev.Provider, string(ev.Status), string(ev.Reason)}
	if c := m.lastResult.Load(); c != nil && c.of == of && c.configured == configured {
		c.n.Add(1)
		return
	}
	k := of
	if !configured {
		k.account = otherAccount
	}
	v, ok := m.results.Load(k)
	if !ok {
		v, _ = m.results.LoadOrStore(k, &resultCount{attrs: k.option("status", "reason"), of: of, configured: configured})
	}
	c := v.(*resultCount)
	c.n.Add(1)
	if c.of == of && c.configured == configured {
		m.lastResult.Store(c)
	}
}

// observeResults reports talkrelay_results_total.
func (m *metrics) observeResults(_ context.Context, o metric.Int64Observer) error {
	m.results.Range(func(_, c any) bool {
		o.Observe(c.(*resultCount).n.Load(), c.(*resultCount).attrs)
		return true
	})
	return nil
}

// request records one provider call; outcome is "ok" or the failure class.
func (m *metrics) request(account, provider string, recipients int, took time.Duration, outcome string) {
	ctx := context.Background()
	byOutcome := m.set(attrKey{account, provider, outcome, ""}, "outcome")
	m.requests.Add(ctx, 1, byOutcome.add...)
	m.duration.Record(ctx, took.Seconds(), byOutcome.record...)
	m.batchSizes.Record(ctx, int64(recipients), m.set(attrKey{account, provider, "", ""}).record...)
}
