// Package worker runs talkrelay's delivery worker: it takes send jobs and
// retry envelopes from intake, hands their recipients to the dispatcher,
// decides each recipient's fate (package decide), stores one result event
// per recipient and any follow-up (package store, with send records kept
// by package reconcile) and acknowledges each message only once all of
// that is stored (at-least-once from job to result).
package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/decide"
	"github.com/talkrelay/talkrelay/internal/dedupe"
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/guard"
	"github.com/talkrelay/talkrelay/internal/intake"
	"github.com/talkrelay/talkrelay/internal/natsconn"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao"
	"github.com/talkrelay/talkrelay/internal/providers/naver"
	"github.com/talkrelay/talkrelay/internal/providers/nhn"
	"github.com/talkrelay/talkrelay/internal/providers/sandbox"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Providers is the registry of provider adapters by the name accounts use.
var Providers = map[string]providers.Factory{
	"sandbox": sandbox.New,
	"naver":   naver.New,
	"nhn":     nhn.New,
	"kakao":   kakao.New,
}

// Options are the worker's collaborators that are not configuration.
type Options struct {
	// Providers overrides the registry (tests point accounts at fakes).
	Providers map[string]providers.Factory
	// HTTPClient is used by provider adapters (default: a tuned client).
	HTTPClient *http.Client
	// Tracer defaults to one from an SDK tracer provider without exporter,
	// which records only the spans of jobs whose producer's trace is
	// sampled; every job still gets a trace id (the worker makes the
	// unrecorded spans itself: defaultTracer).
	Tracer trace.Tracer
	// Ready, if set, is closed once the worker is consuming.
	Ready chan<- struct{}
	// PreflightEvery is how often an account held by its preflight is
	// checked again (default 1m; see preflight.go).
	PreflightEvery time.Duration
	// Clock is the time of every decision about a recipient (retries,
	// lookups, deadlines, and the provider adapters' own: reservations, ad
	// hours, lookup windows; see providers.Spec.Now) and of the timestamps
	// stored with results, send records and retry schedules (default:
	// decide.System, the real clock). The real clock stays where a fake one
	// makes no sense: timeouts, keep-alives and durations (measured), the
	// duplicate check's window (against the timestamps NATS stored), and
	// when the NATS server delivers a retry (its delay on Clock, counted
	// from the real now).
	Clock decide.Clock
}

// Worker is one running worker replica.
type Worker struct {
	cfg      *config.Config
	log      zerolog.Logger
	tracer   trace.Tracer
	clock    decide.Clock
	accounts map[string]*account
	disp     *dispatch.Dispatcher
	pub      *store.Publisher
	track    *tracker
	intake   *intake.Intake
	traces   *dedupe.Checker // the traces job ids left (see startFresh)
	nc       *nats.Conn
	js       jetstream.JetStream
	records  *reconcile.Records
	cancels  *cancelSet         // cancelled jobs (cancel.go)
	cancelKV jetstream.KeyValue // cancel markers
	metrics  *metrics
	ready    atomic.Bool
	// preflight holds the accounts whose provider check failed.
	preflight preflights
	// guard is the template and sender guard (guard.go).
	guard *guard.Guard
	// verdicts are the guard's verdicts on the jobs' senders and
	// templates (guard.go).
	verdicts verdicts
	// priorityWarned: lane name -> *atomic.Int64, the last warning's time
	priorityWarned sync.Map
	// lostLogs bounds the warnings of jobs given up (see lose): a long
	// pause gives up every job held at once.
	lostLogs zerolog.BurstSampler
	// defaultTracer: tracer is defaultTracer(), whose unrecorded spans
	// the worker starts itself (startJobSpan).
	defaultTracer bool
}

// Run runs a worker until ctx is cancelled, then shuts down gracefully:
// it stops pulling, sends what it holds within worker.shutdown_grace, waits
// as long again for the results to be stored and acknowledges the finished
// jobs. Jobs it could not finish are handed back to NATS for another
// replica. It returns within 2 × worker.shutdown_grace of ctx's end,
// whatever the providers or NATS do.
func Run(ctx context.Context, cfg *config.Config, log zerolog.Logger, opts Options) error {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if opts.Providers == nil {
		opts.Providers = Providers
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = newHTTPClient()
	}
	if opts.Clock == nil {
		opts.Clock = decide.System
	}
	ownTracer := opts.Tracer == nil
	if ownTracer {
		opts.Tracer = defaultTracer()
	}
	accounts, err := buildAccounts(cfg, opts)
	if err != nil {
		return err
	}
	for _, s := range accountAdvice(accounts) {
		log.Warn().Msg(s)
	}

	natsURL := cfg.NATS.URL
	if natsURL == "" {
		ns, err := startEmbedded(cfg, log)
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		natsURL = ns.ClientURL()
	}
	nc, err := connect(cfg, natsURL, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	if msg := natsconn.PayloadWarning(nc, cfg.Worker.MaxJobBytes); msg != "" {
		log.Warn().Msg(msg)
	}
	js, err := cfg.NATS.JetStream(nc, jetstream.WithPublishAsyncMaxPending(4000), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := streams.Ensure(setupCtx, js, cfg.Streams); err != nil {
		return err
	}
	sends, err := js.KeyValue(setupCtx, streams.SendsBucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", streams.SendsBucket, err)
	}
	// The providers are asked before the shared rate limits are joined, so
	// that a replica starts sending as soon as it has its share.
	guardCtx, stopGuard := context.WithCancel(ctx)
	defer stopGuard()
	accountGuard, err := guard.New(guardCtx, js, guard.Config{Replicas: cfg.Streams.Replicas, Now: opts.Clock.Now, Log: log},
		guardAccounts(accounts))
	if err != nil {
		return err
	}
	defer func() { stopGuard(); accountGuard.Wait() }()
	preflighted := preflightAll(ctx, accounts)
	limits, err := shareLimits(setupCtx, js, cfg, accounts)
	if err != nil {
		return err
	}

	w := &Worker{cfg: cfg, log: log, tracer: opts.Tracer, clock: opts.Clock, track: newTracker(), nc: nc, js: js, records: reconcile.New(js, sends),
		accounts: map[string]*account{}, lostLogs: zerolog.BurstSampler{Burst: lostLogBurst, Period: time.Second},
		preflight: preflights{held: map[string]string{}}, guard: accountGuard}
	w.defaultTracer = ownTracer
	for i, a := range accounts {
		acct := &account{Account: a, policy: cfg.Accounts[i].Retry, holdNightAds: cfg.Accounts[i].NightAds == config.NightAdsHold,
			dailyQuota: cfg.Accounts[i].DailyQuota}
		acct.resolver, _ = a.Client.(providers.Resolver)
		w.accounts[a.Name] = acct
	}
	pollers, err := w.reportPollers(setupCtx)
	if err != nil {
		return err
	}
	decoders := cfg.Worker.Decoders
	if decoders == 0 {
		decoders = runtime.GOMAXPROCS(0)
	}
	w.intake = intake.New(js, intake.Config{
		Consumer:      cfg.Worker.Consumer,
		AckWait:       cfg.Worker.AckWait,
		MaxDeliver:    cfg.Worker.MaxDeliver,
		MaxAckPending: cfg.Worker.MaxAckPending,
		PullBatch:     cfg.Worker.PullBatch,
		LaneBytes:     cfg.Worker.LaneBytes,
		Starters:      decoders,
		Log:           log,
		Paused:        w.preflight.paused,
	}, w.startGroup)
	w.traces = dedupe.New(nc, dedupe.Options{APIPrefix: streams.APIPrefix(js), Window: cfg.Streams.JobsDuplicateWindow})
	defer func() { _ = w.traces.Close() }()
	providerOf := map[string]string{}
	names := make([]string, len(accounts))
	for i, a := range accounts {
		providerOf[a.Name], names[i] = a.Provider, a.Name
	}
	if w.metrics, err = newMetrics(w.track.count, w.intake.Held, w.isReady, nc, providerOf); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := w.metrics.observeRates(limits); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := w.metrics.observeHeld(names, &w.preflight); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	for _, a := range accounts {
		a.Limiter = w.metrics.timeLimiter(a.Name, a.Limiter)
	}
	// Publishing outlives ctx: after SIGTERM, results of in-flight batches
	// must still be stored. pubCtx ends the publisher's retries once the
	// grace period is over.
	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	w.pub = store.NewPublisher(pubCtx, js, log, 1024)
	calls, endCalls := context.WithCancel(context.Background())
	defer endCalls()
	w.disp = dispatch.New(dispatch.Config{
		Linger: cfg.Worker.Linger, Tracer: opts.Tracer, Log: log, Now: opts.Clock.Now, OnRequest: w.metrics.request, BeforeSend: w.beforeSend,
		Fence: w.fence, Calls: calls},
		accounts, w.onOutcome)

	stopHTTP, err := w.serveHTTP(cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	defer stopHTTP()

	stopCancels, err := w.startCancels(setupCtx, ctx)
	if err != nil {
		return err
	}
	defer stopCancels()
	if opts.PreflightEvery <= 0 {
		opts.PreflightEvery = defaultPreflightEvery
	}
	preflightCtx, stopPreflight := context.WithCancel(ctx)
	recheck := w.startPreflight(preflightCtx, preflighted, accounts, opts.PreflightEvery)
	rechecked := make(chan struct{})
	go func() { defer close(rechecked); recheck() }()
	defer func() { stopPreflight(); <-rechecked }()
	if err := w.intake.Start(setupCtx, names); err != nil {
		return err
	}
	defer w.intake.Close()
	stopping := false
	defer func() {
		if !stopping {
			w.intake.Stop() // on an early return; shutdown stops intake within its bound
		}
	}()
	poison, err := w.watchPoison(setupCtx)
	if err != nil {
		return fmt.Errorf("consume max-deliveries advisories: %w", err)
	}
	defer func() {
		if !stopping {
			poison.wait() // on an early return; shutdown waits within its bound
		}
	}()
	stopHooks, err := w.serveHooks()
	if err != nil {
		return err
	}
	defer stopHooks()
	waitReports, err := w.pollReports(ctx, pollers)
	if err != nil {
		return err
	}
	swept := make(chan struct{})
	go func() { defer close(swept); w.sweepSendRecords(ctx) }()
	lagRead := make(chan struct{})
	go func() { defer close(lagRead); w.watchLag(ctx) }()
	defer func() { <-lagRead }()
	w.ready.Store(true)
	log.Info().Str("nats", natsURL).Int("accounts", len(accounts)).Str("consumer", cfg.Worker.Consumer).Msg("worker consuming")
	if opts.Ready != nil {
		close(opts.Ready)
	}

	<-ctx.Done()
	stopping = true
	w.shutdown(cfg.Worker.ShutdownGrace, endCalls, cancelPub, poison, swept)
	waitReports() // they give their leases up before the connection drains
	stopHooks()   // answered hooks are stored; later ones get no answer and are retried
	if err := nc.Drain(); err != nil {
		log.Warn().Err(err).Msg("nats drain")
	}
	log.Info().Msg("worker stopped")
	return nil
}

// shutdown stops pulling (jobs received but not started go straight back
// to NATS), sends the batches it holds and waits for provider calls until
// grace is over, then cancels them (endCalls), sends and lookups alike; it
// waits for what the deliveries decided to be stored until 2 × grace after
// it began, then gives up storing (endStores) and hands the deliveries not
// settled back to NATS for redelivery. It returns then, whatever the
// providers or NATS do: a call that ignores its cancellation, or a starter
// still waiting for NATS, unwinds on its own later, and its delivery's
// redelivery reconciles with what was stored.
func (w *Worker) shutdown(grace time.Duration, endCalls, endStores context.CancelFunc, poison *poisonWatch, swept <-chan struct{}) {
	w.log.Info().Int("jobs_in_flight", w.track.count()).Bool("poison_job_in_handling", poison.busy.Load()).
		Stringer("grace", grace).Msg("shutting down")
	w.ready.Store(false)
	poison.stop()
	graceCtx, cancelGrace := context.WithTimeout(context.Background(), grace)
	defer cancelGrace()
	context.AfterFunc(graceCtx, endCalls)
	giveUp := time.NewTimer(2 * grace)
	defer giveUp.Stop()

	settled := make(chan struct{})
	go func() {
		w.intake.Stop()
		if err := w.disp.Close(graceCtx); err != nil {
			w.log.Warn().Err(err).Msg("shutdown")
		}
		// Every batch has reported and no delivery starts any more: wait
		// for the started ones to be stored and settled, and for the
		// poison job in handling, if any.
		w.track.wg.Wait()
		poison.wait()
		<-swept
		close(settled)
	}()
	select {
	case <-settled:
	case <-giveUp.C:
		w.log.Warn().Int("jobs", w.track.count()).Msg("shutdown grace over twice: jobs not settled are handed back to NATS for redelivery")
		endCalls()
		endStores()
		for _, d := range w.track.list() {
			w.abandon(d, 0)
		}
	}
	w.pub.Close()
	w.intake.Close()
}

func buildAccounts(cfg *config.Config, opts Options) ([]*dispatch.Account, error) {
	out := make([]*dispatch.Account, 0, len(cfg.Accounts))
	for i := range cfg.Accounts {
		a := &cfg.Accounts[i]
		factory, ok := opts.Providers[a.Provider]
		if !ok {
			names := make([]string, 0, len(opts.Providers))
			for n := range opts.Providers {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, cfg.Locate(fmt.Errorf("accounts.%s.provider: %q is not one of %v", a.Name, a.Provider, names))
		}
		creds, err := a.ResolveCredentials()
		if err != nil {
			return nil, cfg.Locate(err)
		}
		client, err := factory(providers.Spec{
			Account:       a.Name,
			BaseURL:       a.BaseURL,
			Credentials:   creds,
			DecodeOptions: a.DecodeOptions,
			HTTPClient:    providers.Gated(opts.HTTPClient), // lookups and cancels pass the rate limit per request (dispatch.Account.RequestGate)
			Now:           clockNow(opts.Clock),
			ReportsPolled: a.Reports.On(false), // the sandbox's default-on concerns no adapter
		})
		if err != nil {
			return nil, accountError(cfg, a, err)
		}
		if err := checkHookReporter(a, client); err != nil {
			return nil, cfg.Locate(err)
		}
		out = append(out, &dispatch.Account{
			Name:           a.Name,
			Provider:       a.Provider,
			Client:         client,
			Sender:         a.Sender,
			Limiter:        ratelimit.NewLocal(a.RateLimit, client.MaxBatch()),
			MaxConcurrency: a.MaxConcurrency,
			RequestTimeout: a.RequestTimeout,
		})
	}
	return out, nil
}

// accountError says which account a provider refused to build, once: an
// error of the config package already names the path and line; a
// provider's own "<provider>: accounts.<name>..." keeps its path.
func accountError(cfg *config.Config, a *config.Account, err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce
	}
	path := "accounts." + a.Name
	msg := strings.TrimPrefix(err.Error(), a.Provider+": ")
	options, isOption := strings.CutPrefix(msg, path+".options: ")
	if isOption {
		msg = options
	}
	// "batch_limit: 0 is out of range": an option the file sets.
	if key, _, ok := strings.Cut(msg, ":"); ok && cfg.Line(path+".options."+key) > 0 {
		msg = path + ".options." + msg
	}
	switch {
	case strings.HasPrefix(msg, path+".") || strings.HasPrefix(msg, path+":"):
	case isOption:
		msg = path + ".options: " + msg
	default:
		msg = path + ": " + msg
	}
	return cfg.Locate(errors.New(msg))
}

func startEmbedded(cfg *config.Config, log zerolog.Logger) (*server.Server, error) {
	e := cfg.NATS.Embedded
	log.Info().Str("store_dir", e.StoreDir).Str("host", e.Host).Int("port", e.Port).Msg("no NATS URL set: starting the embedded nats-server")
	return natsconn.StartEmbedded(e, cfg.NATS.Domain)
}

func connect(cfg *config.Config, url string, log zerolog.Logger) (*nats.Conn, error) {
	c := cfg.NATS
	c.URL = url
	return c.Connect("talkrelay-worker",
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Drain/Close
				log.Warn().Err(err).Msg("disconnected from NATS; reconnecting")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("server", nc.ConnectedUrlRedacted()).Msg("reconnected to NATS")
		}),
		asyncErrors(log),
	)
}

// asyncErrors logs what the server refused or dropped outside any call
// (a permissions violation on a publish or an ack, a slow consumer), at
// most 5 a minute: a missing permission would otherwise only show as
// jobs redelivered.
func asyncErrors(log zerolog.Logger) nats.Option {
	sampled := log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Minute})
	return nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		ev := sampled.Error().Err(err)
		if sub != nil {
			ev = ev.Str("subscription", sub.Subject)
		}
		ev.Msg("NATS refused or dropped a message")
	})
}

func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	t.MaxConnsPerHost = 0
	t.ResponseHeaderTimeout = 0 // the dispatcher's per-request deadline applies
	// A client span per request (OpenTelemetry HTTP conventions), a child
	// of the batch's talkrelay.send span, recorded by that span's tracer
	// provider: otelhttp takes the provider of the span in the request's
	// context when it is given none. No propagator: the providers are sent
	// no trace headers.
	return &http.Client{Transport: otelhttp.NewTransport(t, otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()))}
}

// clockNow is c's Now, or nil (the adapters' default, the real clock) for
// no clock.
func clockNow(c decide.Clock) func() time.Time {
	if c == nil {
		return nil
	}
	return c.Now
}

// CheckAccounts builds every account's provider client from cfg, which
// checks credentials and provider options, without connecting anywhere,
// and returns the providers' advice on the accounts (accountAdvice).
func CheckAccounts(cfg *config.Config) ([]string, error) {
	accounts, err := buildAccounts(cfg, Options{Providers: Providers, HTTPClient: http.DefaultClient})
	if err != nil {
		return nil, err
	}
	return accountAdvice(accounts), nil
}
