package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/sandbox"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
	"github.com/talkrelay/talkrelay/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, natstest.LeakOptions()...)
}

// env is a worker under test with its NATS server and provider clients.
type env struct {
	t        *testing.T
	logLevel zerolog.Level // of the workers; warn by default
	srv      *natstest.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	mu       sync.Mutex
	clients  map[string]*sandbox.Client // by account
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, natstest.Run(t))
}

// newEnvOn is newEnv on the given server.
func newEnvOn(t *testing.T, srv *natstest.Server) *env {
	t.Helper()
	nc, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	return &env{t: t, srv: srv, nc: nc, js: js, clients: map[string]*sandbox.Client{}, logLevel: zerolog.WarnLevel}
}

// sandboxAccount returns a sandbox account config with the given options.
func sandboxAccount(name string, opts map[string]any) config.Account {
	a := config.Account{Name: name, Provider: "sandbox", Sender: "@test", MaxConcurrency: 8, RequestTimeout: 10 * time.Second}
	if opts != nil {
		if err := a.Options.Encode(opts); err != nil {
			panic(err)
		}
	}
	return a
}

func (e *env) config(accounts ...config.Account) *config.Config {
	cfg := config.Default()
	cfg.NATS.URL = e.srv.ClientURL()
	cfg.HTTP.Addr = ""
	cfg.Worker.Linger = 50 * time.Millisecond
	cfg.Worker.ShutdownGrace = 5 * time.Second
	cfg.Accounts = accounts
	return cfg
}

// start runs a worker with sandbox accounts until the returned stop func
// is called; stop waits for it to exit and returns its error.
func (e *env) start(cfg *config.Config) (stop func() error) {
	e.t.Helper()
	return e.startWith(cfg, worker.Options{
		Providers: map[string]providers.Factory{"sandbox": func(s providers.Spec) (providers.Provider, error) {
			p, err := sandbox.New(s)
			if err == nil {
				e.mu.Lock()
				e.clients[s.Account] = p.(*sandbox.Client)
				e.mu.Unlock()
			}
			return p, err
		}},
	})
}

// startWith is start with the given options; their Ready is set here.
// Options without Providers get the real registry (worker.Providers).
func (e *env) startWith(cfg *config.Config, opts worker.Options) (stop func() error) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	errc := make(chan error, 1)
	opts.Ready = ready
	go func() {
		errc <- worker.Run(ctx, cfg, zerolog.New(zerolog.NewTestWriter(e.t)).Level(e.logLevel), opts)
	}()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		e.t.Fatalf("worker did not start: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		e.t.Fatal("worker not ready within 20s")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-errc })
		return err
	}
	e.t.Cleanup(func() { _ = stop() })
	return stop
}

func (e *env) requests(account string) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clients[account].Requests()
}

func (e *env) publishJob(j *job.Job) {
	e.t.Helper()
	data, err := j.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	e.publishRaw(streams.JobSubject(j.Account, string(j.Kind)), data, j.ID)
}

func (e *env) publishRaw(subject string, data []byte, id string) {
	e.t.Helper()
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	if _, err := e.js.Publish(e.t.Context(), subject, data, opts...); err != nil {
		e.t.Fatalf("publish %s: %v", subject, err)
	}
}

// results reads result events from the start of the results stream until
// n have arrived, failing the test after timeout.
func (e *env) results(n int, timeout time.Duration) []result.Event {
	e.t.Helper()
	return readStream[result.Event](e.t, e.js, streams.ResultsStream, n, timeout, func(m jetstream.Msg) result.Event {
		if err := schemas.ValidateResult(m.Data()); err != nil {
			e.t.Errorf("result event breaks the schema: %v\n%s", err, m.Data())
		}
		var ev result.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			e.t.Fatalf("result event: %v", err)
		}
		if m.Subject() != streams.ResultSubject(ev.Account, string(ev.Status), ev.JobID) {
			e.t.Errorf("result with status %s published on %s", ev.Status, m.Subject())
		}
		return ev
	})
}

func readStream[T any](t *testing.T, js jetstream.JetStream, stream string, n int, timeout time.Duration, conv func(jetstream.Msg) T) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]T, 0, n)
	for len(out) < n {
		batch, err := cons.Fetch(min(n-len(out), 1000), jetstream.FetchMaxWait(time.Second))
		if err != nil && ctx.Err() == nil {
			continue
		}
		for m := range batch.Messages() {
			out = append(out, conv(m))
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d messages within %s", stream, len(out), n, timeout)
		}
	}
	return out
}

// streamCount returns how many messages a stream holds.
func (e *env) streamCount(name string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(e.t.Context(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

func testJob(id, account string, n int) *job.Job {
	j := &job.Job{Version: 1, ID: id, Account: account, Kind: job.AlimTalk, Template: "T1",
		Metadata: json.RawMessage(`{"campaign":"test"}`)}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{
			Ref: fmt.Sprintf("r%d", i), Phone: fmt.Sprintf("010%08d", i), Content: "hello"})
	}
	return j
}

func countBy[T any, K comparable](xs []T, key func(T) K) map[K]int {
	m := map[K]int{}
	for _, x := range xs {
		m[key(x)]++
	}
	return m
}

func TestBatchesSingleRecipientJobsIntoOneRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 100 {
		e.publishJob(testJob(fmt.Sprintf("single-%03d", i), "acct", 1))
	}
	cfg := e.config(sandboxAccount("acct", map[string]any{"batch_limit": 100}))
	cfg.Worker.Linger = 5 * time.Second // only the size trigger may send
	e.start(cfg)

	evs := e.results(100, 30*time.Second)
	if got := e.requests("acct"); got != 1 {
		t.Errorf("provider requests = %d, want 1 for 100 single-recipient jobs", got)
	}
	for _, ev := range evs {
		if ev.Status != result.Accepted || ev.Reason != result.ReasonOK || ev.Attempt != 1 {
			t.Errorf("result %s/%d: %s %s attempt %d", ev.JobID, ev.RecipientIndex, ev.Status, ev.Reason, ev.Attempt)
		}
		if ev.Phone == "" || strings.Contains(ev.Phone, "0000000") || ev.TraceID == "" || string(ev.Metadata) != `{"campaign":"test"}` {
			t.Errorf("result %s: phone %q trace %q metadata %s", ev.JobID, ev.Phone, ev.TraceID, ev.Metadata)
		}
	}
	if n := len(countBy(evs, func(ev result.Event) string { return ev.JobID })); n != 100 {
		t.Errorf("results for %d distinct jobs, want 100", n)
	}
	waitFor(t, 10*time.Second, "jobs stream empty (all acked)", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}

func TestSplitsLargeJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(e.config(sandboxAccount("big", map[string]any{"batch_limit": 1000})))
	e.publishJob(testJob("campaign-1", "big", 2500))

	evs := e.results(2500, 60*time.Second)
	if got := e.requests("big"); got != 3 {
		t.Errorf("provider requests = %d, want 3 for 2,500 recipients at 1,000 per request", got)
	}
	idx := countBy(evs, func(ev result.Event) int { return ev.RecipientIndex })
	for i := range 2500 {
		if idx[i] != 1 {
			t.Fatalf("recipient %d has %d results, want 1", i, idx[i])
		}
	}
	waitFor(t, 10*time.Second, "jobs stream empty", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}

func TestBadInputIsDeadLetteredAndWorkContinues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(sandboxAccount("good", nil))
	cfg.Worker.MaxJobBytes = 4096
	e.start(cfg)

	e.publishRaw(streams.JobSubject("good", "alimtalk"), []byte("\x00\xffgarbage{{"), "")
	e.publishRaw(streams.JobSubject("good", "alimtalk"), []byte(`{"version":1,"id":"bad-schema","account":"good","kind":"alimtalk","recipients":[]}`), "bad-schema")
	e.publishJob(testJob("no-account", "nobody", 2))
	big := testJob("too-big", "good", 1)
	big.Recipients[0].Content = strings.Repeat("x", 5000)
	e.publishJob(big)
	e.publishJob(testJob("valid-after", "good", 1))

	evs := e.results(6, 30*time.Second)
	byJob := map[string][]result.Event{}
	for _, ev := range evs {
		byJob[ev.JobID] = append(byJob[ev.JobID], ev)
	}
	check := func(id string, n int, status result.Status, reason result.Reason) {
		t.Helper()
		got := byJob[id]
		if len(got) != n {
			t.Fatalf("job %q: %d results, want %d: %+v", id, len(got), n, got)
		}
		for _, ev := range got {
			if ev.Status != status || ev.Reason != reason || ev.Message == "" {
				t.Errorf("job %q: %s/%s %q, want %s/%s with a message", id, ev.Status, ev.Reason, ev.Message, status, reason)
			}
		}
	}
	check("", 1, result.Rejected, result.ReasonInvalidJob)
	check("bad-schema", 1, result.Rejected, result.ReasonInvalidJob)
	check("no-account", 2, result.Rejected, result.ReasonUnknownAccount)
	check("too-big", 1, result.Rejected, result.ReasonOversized)
	check("valid-after", 1, result.Accepted, result.ReasonOK)
	if !strings.Contains(byJob["bad-schema"][0].Message, "/recipients") {
		t.Errorf("schema rejection does not say where: %q", byJob["bad-schema"][0].Message)
	}

	dead := readStream(t, e.js, streams.DLQStream, 4, 10*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	reasons := map[string]string{}
	for _, m := range dead {
		reasons[m.Headers().Get(streams.HeaderJobID)] = m.Headers().Get(streams.HeaderReason)
		if m.Subject() == "" || m.Headers().Get(streams.HeaderSubject) == "" {
			t.Errorf("dead letter without subject headers: %v", m.Headers())
		}
	}
	for id, want := range map[string]string{"": "invalid_job", "bad-schema": "invalid_job", "no-account": "unknown_account", "too-big": "oversized"} {
		if !strings.HasPrefix(reasons[id], want+": ") {
			t.Errorf("dead letter of %q has reason %q, want %s: ...", id, reasons[id], want)
		}
	}
	waitFor(t, 10*time.Second, "jobs stream empty", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}

// A job is acknowledged only after its results are stored: when the
// results cannot be stored and the worker stops, the job stays and the
// next worker gets it. The recipients were handed to the provider, so the
// next worker must not send them again: without a provider lookup (the
// sandbox has none) their final result is "unknown".
func TestJobNotAckedBeforeResultsStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(sandboxAccount("acct", nil))
	cfg.Worker.ShutdownGrace = time.Second
	cfg.Worker.AckWait = 2 * time.Second
	stop := e.start(cfg)
	// The worker created the streams at start-up; seal the results stream
	// so that no result can be stored (it can still be read: the duplicate
	// check, which must answer before anything is sent, reads it).
	rs, err := e.js.Stream(t.Context(), streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	sealed := rs.CachedInfo().Config
	sealed.Sealed = true
	if _, err := e.js.UpdateStream(t.Context(), sealed); err != nil {
		t.Fatal(err)
	}
	e.publishJob(testJob("must-survive", "acct", 3))
	waitFor(t, 10*time.Second, "the provider called", func() bool { return e.requests("acct") == 1 })
	if err := stop(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	if n := e.streamCount(streams.JobsStream); n != 1 {
		t.Fatalf("jobs stream holds %d messages after the worker stopped without storing results, want 1", n)
	}

	// Results can be stored again; a new worker gets the job redelivered.
	if err := e.js.DeleteStream(t.Context(), streams.ResultsStream); err != nil {
		t.Fatal(err)
	}
	if err := streams.Ensure(t.Context(), e.js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	e.start(cfg)
	evs := e.results(3, 30*time.Second)
	for _, ev := range evs {
		if ev.JobID != "must-survive" || ev.Status != result.Unknown || ev.Reason != result.ReasonOutcomeUnknown || ev.Attempt != 1 {
			t.Errorf("result %+v, want unknown after 1 attempt", ev)
		}
	}
	if n := e.requests("acct"); n != 0 {
		t.Errorf("the second worker sent %d requests; a message handed to the provider must not be resent blindly", n)
	}
	waitFor(t, 10*time.Second, "jobs stream empty", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}

func TestRecipientFailingProviderCheckIsRejectedRestSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(e.config(sandboxAccount("acct", nil)))
	j := testJob("mixed", "acct", 3)
	j.Recipients[1].Content = ""
	j.Recipients[1].Variables = map[string]string{"name": "x"}
	e.publishJob(j)
	evs := e.results(3, 30*time.Second)
	got := countBy(evs, func(ev result.Event) string { return fmt.Sprintf("%d:%s", ev.RecipientIndex, ev.Status) })
	want := map[string]int{"0:accepted": 1, "1:rejected": 1, "2:accepted": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("results %v, want %v", got, want)
			break
		}
	}
}

func TestSandboxFailuresAreRetriedThenReported(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := sandboxAccount("flaky", map[string]any{"retryable_rate": 0.5, "permanent_rate": 0.2, "seed": 7})
	a.Retry = fastRetry(3)
	e.start(e.config(a))
	e.publishJob(testJob("flaky-1", "flaky", 300))
	evs := e.results(300, 30*time.Second)
	codes := countBy(evs, func(ev result.Event) string {
		return fmt.Sprintf("%s/%v/%s/%d", ev.Status, ev.Retryable, ev.Code, min(ev.Attempt, 2))
	})
	// Retryable answers are tried again: some recipients are accepted on a
	// later attempt, and only those that got S520 three times end failed
	// and retryable, after 3 attempts.
	for _, k := range []string{"accepted/false/S200/1", "accepted/false/S200/2", "failed/false/S410/1", "failed/false/S410/2", "failed/true/S520/2"} {
		if codes[k] < 5 {
			t.Errorf("outcome %s seen %d times in 300: %v", k, codes[k], codes)
		}
	}
	for _, ev := range evs {
		if ev.Retryable && (ev.Attempt != 3 || !strings.Contains(ev.Detail, "3 attempts")) {
			t.Errorf("recipient %d ended retryable after %d attempts: %q", ev.RecipientIndex, ev.Attempt, ev.Detail)
		}
	}
	// The job is dead-lettered with the recipients that ended failed.
	dead := readStream(t, e.js, streams.DLQStream, 1, 10*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	if !strings.Contains(dead[0].Headers().Get(streams.HeaderReason), "ended without delivery") {
		t.Errorf("dead letter reason %q", dead[0].Headers().Get(streams.HeaderReason))
	}
	waitFor(t, 10*time.Second, "jobs stream empty", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}

// fastRetry is a retry policy with 1-second waits, for tests.
func fastRetry(attempts int) retry.Policy {
	return retry.Policy{MaxAttempts: attempts, InitialInterval: time.Second, MaxInterval: time.Second, Jitter: 0.01, LookupAfter: time.Second, MaxLookups: 2}
}

func TestBadConfigFailsAtStartNamingTheField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"unknown provider", func(c *config.Config) { c.Accounts[0].Provider = "carrier-pigeon" }, "accounts.a.provider"},
		{"missing credential env", func(c *config.Config) {
			c.Accounts[0].Credentials = map[string]config.Secret{"secret_key": {Env: "TALKRELAY_TEST_UNSET_VAR"}}
		}, "accounts.a.credentials.secret_key"},
		{"bad sandbox option", func(c *config.Config) {
			var n yaml.Node
			_ = n.Encode(map[string]any{"batch_limt": 5})
			c.Accounts[0].Options = n
		}, "batch_limt"},
		{"duplicate account", func(c *config.Config) { c.Accounts = append(c.Accounts, c.Accounts[0]) }, "accounts.a.name"},
		{"bad linger", func(c *config.Config) { c.Worker.Linger = -1 }, "worker.linger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.config(sandboxAccount("a", nil))
			tt.edit(cfg)
			err := worker.Run(t.Context(), cfg, zerolog.Nop(), worker.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShutdownFinishesInFlightBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(sandboxAccount("slow", map[string]any{"latency": "1500ms"}))
	cfg.Worker.ShutdownGrace = 10 * time.Second
	stop := e.start(cfg)
	e.publishJob(testJob("in-flight", "slow", 3))
	waitFor(t, 10*time.Second, "the provider call started", func() bool { return e.requests("slow") == 1 })
	if err := stop(); err != nil { // SIGTERM while the call is in flight
		t.Fatalf("worker exited with %v, want a clean stop", err)
	}
	// Everything was finished before the worker returned.
	if n := e.streamCount(streams.ResultsStream); n != 3 {
		t.Errorf("%d results stored by the time the worker stopped, want 3", n)
	}
	// Its ack was sent before the worker returned; the server applies it
	// asynchronously.
	waitFor(t, 5*time.Second, "the job acked", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}

func TestShutdownPastGraceHandsWorkBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := sandboxAccount("stuck", map[string]any{"latency": "30s"})
	a.Retry = fastRetry(3)
	cfg := e.config(a)
	cfg.Worker.ShutdownGrace = 500 * time.Millisecond
	stop := e.start(cfg)
	e.publishJob(testJob("stuck", "stuck", 2))
	waitFor(t, 10*time.Second, "the provider call started", func() bool { return e.requests("stuck") == 1 })
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("worker exited with %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stop took %s with a 500ms grace period", took)
	}
	// The cancelled call's recipients were not lost: they are scheduled for
	// another attempt (or their job is back in the stream), and a new worker
	// finishes them.
	e.start(e.config(sandboxAccount("stuck", nil)))
	for _, ev := range e.results(2, 30*time.Second) {
		if ev.Status != result.Accepted {
			t.Errorf("result %+v", ev)
		}
	}
}

func TestSurvivesNATSRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.start(e.config(sandboxAccount("acct", nil)))
	e.publishJob(testJob("before", "acct", 2))
	e.results(2, 30*time.Second)

	e.srv.Restart()
	// The test's own connection reconnects too; publish once it has.
	waitFor(t, 20*time.Second, "test client reconnected", func() bool { return e.nc.IsConnected() })
	var err error
	waitFor(t, 20*time.Second, "publish after restart", func() bool {
		data, _ := testJob("after", "acct", 2).Encode()
		_, err = e.js.Publish(t.Context(), streams.JobSubject("acct", "alimtalk"), data)
		return err == nil
	})
	evs := e.results(4, 60*time.Second)
	if got := countBy(evs, func(ev result.Event) string { return ev.JobID + "/" + string(ev.Status) }); got["after/accepted"] != 2 {
		t.Fatalf("results after the NATS restart: %v", got)
	}
}

// A worker with a long queue behind a slow provider stops within its grace
// period; the jobs it had not started are handed back, not lost.
func TestShutdownHandsBackQueuedJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := sandboxAccount("slow", map[string]any{"latency": "200ms", "batch_limit": 1})
	a.MaxConcurrency = 1
	cfg := e.config(a)
	cfg.Worker.Linger = 0
	cfg.Worker.ShutdownGrace = 2 * time.Second
	for i := range 100 {
		j := testJob(fmt.Sprintf("queued-%03d", i), "slow", 1)
		e.publishJob(j)
	}
	stop := e.start(cfg)
	waitFor(t, 10*time.Second, "sending started", func() bool { return e.requests("slow") >= 2 })
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("stop took %s with 100 queued jobs and a 2s grace period", took)
	}
	e.start(e.config(sandboxAccount("slow", nil)))
	evs := e.results(100, 60*time.Second)
	if n := len(countBy(evs, func(ev result.Event) string { return ev.JobID })); n != 100 {
		t.Fatalf("results for %d jobs, want 100", n)
	}
}
