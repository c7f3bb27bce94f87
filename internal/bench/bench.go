package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Profile names.
const (
	Single   = "single"
	Single3  = "single3"
	Campaign = "campaign"
	Latency  = "latency"
	Latency3 = "latency3"
	Backlog  = "backlog"
	Tenants  = "tenants"
)

// SingleRep and CampaignRep are single and campaign with the account's
// delivery reports on (reports.go).
const (
	SingleRep   = "singlerep"
	CampaignRep = "campaignrep"
)

// AllProfiles is every profile in the order they run.
var AllProfiles = []string{Single, Single3, Campaign, SingleRep, CampaignRep, Latency, Latency3, Backlog, Tenants}

// Targets of the issue, checked in the table.
const (
	singleTarget    = 0.70 // of the consume+publish+ack ceiling (single and single3)
	campaignTarget  = 0.85 // of the results publish ceiling
	campaignRSSMax  = 150 << 20
	latencyTarget   = 0.95 // of the configured requests_per_second
	latencyRPS      = 200
	backlogRSSMax   = 150 << 20
	backlogMaxPause = 2 * time.Second
	tenantsProbeMax = time.Second // every tenant-b probe, publish to result
)

// Config selects what runs.
type Config struct {
	// Profiles to run; empty means all.
	Profiles []string
	// Scale multiplies every profile's size (1 = the full sizes).
	Scale float64
	// Runs is how many times the profiles measured against a ceiling
	// (single, single3, campaign; not singlerep and campaignrep, which run
	// once) run; the table shows the run of median ratio. 0 means 1.
	Runs int
	// WorkDir holds each profile's generated config and worker log (kept),
	// and its JetStream store (removed after the profile). Empty: a new
	// temporary directory.
	WorkDir string
	// WorkerBin is the worker binary; empty: built with go build ./cmd/worker.
	WorkerBin string
	// WorkerArgv, if set, returns the command line that runs the worker
	// for a profile instead of WorkerBin --config FILE (cmd/bench uses it
	// to run a worker that writes pprof profiles).
	WorkerArgv func(configPath, profile string) []string
	// Out receives the table; Progress the progress lines (may be nil).
	Out, Progress io.Writer
}

// ConfigFromEnv reads BENCH_PROFILES (comma separated) and BENCH_SCALE.
func ConfigFromEnv() (Config, error) {
	c := Config{Scale: 1}
	if v := os.Getenv("BENCH_PROFILES"); v != "" {
		c.Profiles = strings.Split(v, ",")
	}
	if v := os.Getenv("BENCH_SCALE"); v != "" {
		if _, err := fmt.Sscan(v, &c.Scale); err != nil {
			return c, fmt.Errorf("BENCH_SCALE: %q is not a number", v)
		}
	}
	if v := os.Getenv("BENCH_RUNS"); v != "" {
		if _, err := fmt.Sscan(v, &c.Runs); err != nil {
			return c, fmt.Errorf("BENCH_RUNS: %q is not a number", v)
		}
	}
	return c, nil
}

func (c *Config) validate() error {
	if len(c.Profiles) == 0 {
		c.Profiles = AllProfiles
	}
	for i, p := range c.Profiles {
		c.Profiles[i] = strings.TrimSpace(p)
		if !contains(AllProfiles, c.Profiles[i]) {
			return fmt.Errorf("profile %q is not one of %s", p, strings.Join(AllProfiles, ", "))
		}
	}
	if c.Scale <= 0 || math.IsNaN(c.Scale) || c.Scale > 10 {
		return fmt.Errorf("scale: %g is out of range (0, 10]", c.Scale)
	}
	if c.Runs < 0 || c.Runs > 9 {
		return fmt.Errorf("runs: %d is out of range [1, 9]", c.Runs)
	}
	c.Runs = max(c.Runs, 1)
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Row is one profile's measurements.
type Row struct {
	Name       string
	Jobs       int
	Recipients int
	MaxJobSize int
	Results    int
	NotOK      int
	Elapsed    time.Duration // first publish (backlog, tenants: consumer created) to last result stored (tenants: end of the probes' wait)
	RecipPerS  float64       // tenants: tenant-a's recipients/s
	P50, P99   time.Duration // tenants: tenant-b's probes (Unanswered if the percentile fell on a probe without a result)
	CPU        time.Duration // worker CPU within Elapsed (summed over replicas)
	CPUTotal   time.Duration // worker CPU over its whole life (rusage, summed over replicas)
	Allocs     uint64        // heap objects the workers allocated within Elapsed (0: not measured, as with -pprof)
	Writes     uint64        // messages the workers stored in JetStream (results and send records)
	PeakRSS    int64         // worker VmHWM (the largest of the replicas)
	// Replicas is how many worker processes ran (1 but for single3 and
	// latency3);
	// RSSSum is their peak RSS summed.
	Replicas   int
	RSSSum     int64
	Requests   int64
	FakeRecips int64
	// Ceiling and Ratio: single, single3 and campaign.
	Ceiling     *ceilingResult
	CeilingKind string
	// Latency profile: the fake's view of the request rate.
	Rate *RateStats
	// Tenants profile: tenant-a's backlog, tenant-b's probes.
	Tenants *TenantsStats
	// Reports profiles: what the delivery reports cost.
	Reports *ReportsStats
	Ratio   float64
	// Checks are the profile's targets, one line each in the table; Pass
	// is whether all were met (and every result accepted).
	Checks []Check
	Pass   bool
	Note   string
}

// Check is one target of a profile and what was measured against it.
type Check struct {
	Against, Value, Ratio, Target string
	Met                           bool
}

func (r *Row) check(c Check) {
	r.Checks = append(r.Checks, c)
	r.Pass = r.Pass && c.Met
}

// Run runs the selected profiles and prints the table.
func Run(ctx context.Context, c Config) ([]Row, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.WorkDir == "" {
		d, err := os.MkdirTemp("", "talkrelay-bench-")
		if err != nil {
			return nil, err
		}
		c.WorkDir = d
	}
	if c.WorkerBin == "" && c.WorkerArgv == nil {
		fmt.Fprintln(c.Progress, "bench: go build ./cmd/worker")
		bin, err := BuildWorker(ctx, c.WorkDir)
		if err != nil {
			return nil, err
		}
		c.WorkerBin = bin
	}
	var rows []Row
	for _, p := range c.Profiles {
		for _, spec := range specsOf(p, c.Scale) {
			runs := 1
			if (spec.profile == Single || spec.profile == Single3 || spec.profile == Campaign) && !spec.reports {
				runs = c.Runs // the reports profiles wait minutes for their reports: one run each
			}
			var tries []Row
			for try := range runs {
				fmt.Fprintf(c.Progress, "bench: %s: %d jobs × %d recipients (run %d of %d)\n", spec.name, spec.w.jobs, spec.w.recipients, try+1, runs)
				var row Row
				var err error
				if spec.profile == Tenants {
					row, err = runTenants(ctx, c, spec)
				} else {
					row, err = runProfile(ctx, c, spec)
				}
				if err != nil {
					return rows, fmt.Errorf("%s: %w", spec.name, err)
				}
				fmt.Fprintf(c.Progress, "bench: %s: %.0f recipients/s (%.0f%% of the ceiling), worker %.1f CPU s, peak RSS %.0f MB\n",
					spec.name, row.RecipPerS, row.Ratio*100, row.CPU.Seconds(), float64(row.PeakRSS)/(1<<20))
				tries = append(tries, row)
			}
			rows = append(rows, medianRun(tries))
		}
	}
	PrintTable(c.Out, rows)
	fmt.Fprintf(c.Progress, "bench: configs and worker logs in %s\n", c.WorkDir)
	return rows, nil
}

// spec is one run of a profile.
type spec struct {
	name     string
	profile  string
	w        workload
	latency  time.Duration
	prequeue bool
	// replicas is how many worker processes consume (0 means 1).
	replicas int
	// tenants: the probes of tenant-b (w is tenant-a's backlog).
	probes        int
	probeInterval time.Duration
	// reports turns the account's delivery reports on (singlerep,
	// campaignrep: profile Single or Campaign, measured the same way).
	reports bool
}

func (s spec) workers() int { return max(1, s.replicas) }

func scaled(n int, scale float64) int { return max(1, int(math.Round(float64(n)*scale))) }

func specsOf(profile string, scale float64) []spec {
	naver := func(prefix string, jobs int) workload {
		return workload{prefix: prefix, account: naverAccount, jobs: jobs, recipients: 1}
	}
	switch profile {
	case Single:
		return []spec{{name: Single, profile: Single, w: naver("single", scaled(200_000, scale))}}
	case Single3:
		// single's workload, consumed by three worker processes sharing the
		// same NATS server, accounts and consumers.
		return []spec{{name: Single3, profile: Single3, replicas: 3, w: naver("single3", scaled(200_000, scale))}}
	case Campaign:
		return []spec{{name: Campaign, profile: Campaign, w: workload{prefix: "campaign", account: nhnAccount,
			jobs: 20, recipients: scaled(50_000, scale), sender: senderKey}}}
	case SingleRep:
		return []spec{{name: SingleRep, profile: Single, reports: true, w: naver("singlerep", scaled(200_000, scale))}}
	case CampaignRep:
		return []spec{{name: CampaignRep, profile: Campaign, reports: true, w: workload{prefix: "campaignrep", account: nhnAccount,
			jobs: 20, recipients: scaled(50_000, scale), sender: senderKey}}}
	case Latency:
		// Queued before the worker starts: this profile measures how
		// exactly the worker fills a provider's rate limit, and the bench
		// process, which also stamps the fake provider's arrivals, would
		// otherwise be busy publishing 20,000 jobs during the first seconds
		// and bunch the stamps.
		return []spec{{name: Latency, profile: Latency, latency: 50 * time.Millisecond, prequeue: true,
			w: workload{prefix: "latency", account: kakaoAccount, jobs: scaled(20_000, scale), recipients: 1}}}
	case Latency3:
		// latency's workload, sent by three worker processes that share
		// the account's one rate limit.
		return []spec{{name: Latency3, profile: Latency, latency: 50 * time.Millisecond, prequeue: true, replicas: 3,
			w: workload{prefix: "latency3", account: kakaoAccount, jobs: scaled(20_000, scale), recipients: 1}}}
	case Backlog:
		big, small := scaled(1_000_000, scale), scaled(250_000, scale)
		return []spec{
			{name: fmt.Sprintf("backlog %s", count(small)), profile: Backlog, prequeue: true, w: naver("backlog-s", small)},
			{name: fmt.Sprintf("backlog %s", count(big)), profile: Backlog, prequeue: true, w: naver("backlog-l", big)},
		}
	case Tenants:
		// tenant-a's backlog scales; tenant-b's probes do not (one every
		// 100 ms for 10 s at any scale).
		return []spec{{name: Tenants, profile: Tenants, prequeue: true,
			w:      workload{prefix: "tenant-a", account: tenantA, jobs: scaled(100_000, scale), recipients: 1},
			probes: 100, probeInterval: 100 * time.Millisecond}}
	}
	return nil
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%100_000 == 0:
		return fmt.Sprintf("%gM", float64(n)/1e6)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// env is one profile's NATS server, connection, fake provider and worker
// config.
type env struct {
	dir     string
	ns      *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	fake    *Fake
	cfgPath string
	cleanup []func()
}

func (e *env) close() {
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		e.cleanup[i]()
	}
}

// setup starts what a profile runs against: a nats-server on a fresh
// store with talkrelay's streams, the fake provider and the worker config.
// Call close even on error.
func setup(ctx context.Context, c Config, s spec, wc workerConfig) (*env, error) {
	e := &env{dir: filepath.Join(c.WorkDir, strings.ReplaceAll(s.name, " ", "-"))}
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return e, err
	}
	store, err := os.MkdirTemp("", "talkrelay-bench-js-")
	if err != nil {
		return e, err
	}
	e.cleanup = append(e.cleanup, func() { os.RemoveAll(store) })
	if e.ns, err = startServer(store); err != nil {
		return e, err
	}
	e.cleanup = append(e.cleanup, func() { e.ns.Shutdown(); e.ns.WaitForShutdown() })
	if e.nc, e.js, err = connect(e.ns); err != nil {
		return e, err
	}
	e.cleanup = append(e.cleanup, e.nc.Close)
	if err := ensureStreams(ctx, e.js); err != nil {
		return e, err
	}
	if e.fake, err = StartFake(s.latency, s.profile == Latency || s.profile == Backlog, s.reports); err != nil {
		return e, err
	}
	e.cleanup = append(e.cleanup, e.fake.Close)
	wc.NATSURL, wc.FakeURL, wc.MaxJobBytes = e.ns.ClientURL(), e.fake.URL(), 8<<20
	wc.ServiceID, wc.AppKey, wc.Sender, wc.SenderKey = fakeServiceID, fakeAppKey, naverSender, senderKey
	wc.KakaoRPS, wc.KakaoConc, wc.LogLevel = latencyRPS, 32, "warn"
	if s.reports {
		wc.ReportsAccount = s.w.account
	}
	e.cfgPath = filepath.Join(e.dir, "worker.yaml")
	return e, writeConfig(e.cfgPath, wc)
}

// workers is a profile's worker processes.
type workers []*workerProc

// startWorkers starts n worker processes on the env's config, each
// logging to worker.log (worker-<i>.log when n > 1).
func (e *env) startWorkers(c Config, s spec, n int) (workers, error) {
	var ws workers
	for i := range n {
		name, logName := strings.ReplaceAll(s.name, " ", "-"), "worker.log"
		if n > 1 {
			name, logName = fmt.Sprintf("%s-%d", name, i+1), fmt.Sprintf("worker-%d.log", i+1)
		}
		argv := []string{c.WorkerBin, "--config", e.cfgPath}
		metricsAddr := ""
		if c.WorkerArgv != nil {
			argv = c.WorkerArgv(e.cfgPath, name)
		} else {
			var err error
			if metricsAddr, err = freeAddr(); err != nil {
				ws.kill()
				return nil, err
			}
		}
		wp, err := startWorker(argv, filepath.Join(e.dir, logName), metricsAddr)
		if err != nil {
			ws.kill()
			return nil, err
		}
		ws = append(ws, wp)
	}
	return ws, nil
}

// pause waits d, after checking that every worker still runs: the
// polling loops' step, which fails at once when a worker died.
func (ws workers) pause(ctx context.Context, d time.Duration) error {
	for _, p := range ws {
		if err := p.alive(); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// kill stops the workers that still run, for error paths.
func (ws workers) kill() {
	for _, p := range ws {
		if p.alive() == nil {
			_ = p.stop(30 * time.Second)
		}
	}
}

// stop stops every worker (SIGTERM to all, then waits), returning the
// first error.
func (ws workers) stop(timeout time.Duration) error {
	errs := make(chan error, len(ws))
	for _, p := range ws {
		go func() { errs <- p.stop(timeout) }()
	}
	var first error
	for range ws {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// cpu returns each worker's CPU time so far, and their sum.
func (ws workers) cpu() (each []time.Duration, sum time.Duration, err error) {
	for _, p := range ws {
		d, err := cpuTime(p.cmd.Process.Pid)
		if err != nil {
			return nil, 0, err
		}
		each, sum = append(each, d), sum+d
	}
	return each, sum, nil
}

// rss returns the largest and the summed peak RSS of the workers.
func (ws workers) rss() (peak, sum int64, err error) {
	for _, p := range ws {
		r, err := peakRSS(p.cmd.Process.Pid)
		if err != nil {
			return 0, 0, err
		}
		peak, sum = max(peak, r), sum+r
	}
	return peak, sum, nil
}

// cpuTotal sums the exited workers' rusage CPU.
func (ws workers) cpuTotal() time.Duration {
	var sum time.Duration
	for _, p := range ws {
		if p.cmd.ProcessState == nil {
			continue
		}
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscallRusage); ok {
			sum += rusageCPU(ru)
		}
	}
	return sum
}

func runProfile(ctx context.Context, c Config, s spec) (Row, error) {
	row := Row{Name: s.name, Jobs: s.w.jobs, Recipients: s.w.total(), Replicas: s.workers(), Pass: true}
	e, err := setup(ctx, c, s, workerConfig{})
	defer e.close()
	if err != nil {
		return row, err
	}
	subject := streams.JobSubject(s.w.account, "alimtalk")

	var pub publishStats
	if s.prequeue {
		if pub, err = publish(ctx, e.nc, subject, s.w); err != nil {
			return row, err
		}
		fmt.Fprintf(c.Progress, "bench: %s: queued %d jobs (%.0f MB) in %s\n", s.name, s.w.jobs, float64(pub.Bytes)/(1<<20), pub.Last.Sub(pub.First).Round(time.Millisecond))
	}

	ws, err := e.startWorkers(c, s, s.workers())
	if err != nil {
		return row, err
	}
	stopped := false
	defer func() {
		if !stopped {
			ws.kill()
		}
	}()
	// Every replica must be pulling before jobs are published; prequeued
	// jobs are there already, and a replica whose credits they filled has
	// no pull request waiting for the check to see.
	pulling := s.workers()
	if s.prequeue {
		pulling = 1
	}
	created, err := waitConsumer(ctx, e.js, []string{s.w.account}, pulling, ws)
	if err != nil {
		return row, err
	}
	if s.reports {
		if err := waitReportPoller(ctx, e.js, s.w, ws); err != nil {
			return row, err
		}
	}
	if err := ws.waitMetrics(ctx); err != nil {
		return row, err
	}
	each0, cpu0, err := ws.cpu()
	if err != nil {
		return row, err
	}
	mallocs0, _, err := ws.mallocs(ctx)
	if err != nil {
		return row, err
	}

	used := serverUse(e.ns)
	start := created
	if !s.prequeue {
		if pub, err = publish(ctx, e.nc, subject, s.w); err != nil {
			return row, err
		}
		start = pub.First
	}
	row.MaxJobSize = pub.MaxJobBytes
	last, err := waitResults(ctx, e.js, uint64(s.w.total()), 90*time.Second, ws)
	if err != nil {
		return row, err
	}
	fmt.Fprintf(c.Progress, "bench: %s: worker's phase: %s\n", s.name, used(s.w.total()))
	each1, cpu1, err := ws.cpu()
	if err != nil {
		return row, err
	}
	if mallocs1, ok, err := ws.mallocs(ctx); err != nil {
		return row, err
	} else if ok {
		row.Allocs = mallocs1 - mallocs0
	}
	if row.PeakRSS, row.RSSSum, err = ws.rss(); err != nil {
		return row, err
	}
	if err := waitAcked(ctx, e.js, 60*time.Second); err != nil {
		return row, err
	}
	if s.reports {
		fmt.Fprintf(c.Progress, "bench: %s: waiting for the reports\n", s.name)
		if row.Reports, err = waitReports(ctx, e.js, ws, s.w.total(), last, cpu0, mallocs0); err != nil {
			return row, err
		}
	}
	stopped = true
	if err := ws.stop(60 * time.Second); err != nil {
		return row, err
	}
	row.CPUTotal = ws.cpuTotal()
	row.CPU = cpu1 - cpu0
	row.Elapsed = last.Sub(start)
	row.RecipPerS = float64(s.w.total()) / row.Elapsed.Seconds()

	if row.Writes, err = workerWrites(ctx, e.js); err != nil {
		return row, err
	}
	rr, err := readResults(ctx, e.js, s.w.total())
	if err != nil {
		return row, err
	}
	row.Results, row.NotOK, row.P50, row.P99 = rr.N, rr.NotOK, rr.P50, rr.P99
	fs := e.fake.Stats()
	row.Requests, row.FakeRecips = fs.Requests, fs.Recipients
	if row.Reports != nil {
		if err := row.Reports.finish(ctx, e.js, s.w, ws, fs.ReportQueries, row.Writes); err != nil {
			return row, err
		}
	}

	switch s.profile {
	case Single, Single3, Campaign:
		fmt.Fprintf(c.Progress, "bench: %s: ceiling\n", s.name)
		used := serverUse(e.ns)
		ceil, err := runCeiling(ctx, e.ns, s.w, rr.Sample, !s.prequeue)
		if err != nil {
			return row, err
		}
		fmt.Fprintf(c.Progress, "bench: %s: ceiling's phase: %s\n", s.name, used(s.w.total()))
		row.Ceiling = &ceil
		row.Ratio = row.RecipPerS / ceil.ResultsPerSec()
		target := singleTarget
		row.CeilingKind = "consume+publish 1 result+ack"
		if s.profile == Campaign {
			target, row.CeilingKind = campaignTarget, "results publish"
		}
		row.check(Check{
			Against: fmt.Sprintf("ceiling (%s), same run", row.CeilingKind),
			Value:   fmt.Sprintf("%.0f results/s", ceil.ResultsPerSec()),
			Ratio:   fmt.Sprintf("%.0f%%", row.Ratio*100),
			Target:  fmt.Sprintf("≥%.0f%% of ceiling", target*100),
			Met:     row.Ratio >= target,
		})
		if s.profile == Campaign {
			row.check(Check{Against: "peak RSS", Value: fmt.Sprintf("%.0f MB", float64(row.PeakRSS)/(1<<20)),
				Target: fmt.Sprintf("peak RSS <%d MB", campaignRSSMax>>20), Met: row.PeakRSS < campaignRSSMax})
		}
		if s.workers() > 1 {
			per := make([]string, len(each1))
			for i := range each1 {
				per[i] = fmt.Sprintf("%.1f", (each1[i] - each0[i]).Seconds())
			}
			row.Note = fmt.Sprintf("%d worker processes: CPU summed over them (%s s each), peak RSS the largest (%.0f MB together)",
				s.workers(), strings.Join(per, " / "), float64(row.RSSSum)/(1<<20))
		}
	case Latency:
		r := e.fake.Rate()
		row.Rate = &r
		row.Ratio = r.Achieved / latencyRPS
		row.check(Check{
			Against: fmt.Sprintf("rate limit %d req/s", latencyRPS),
			Value:   fmt.Sprintf("%.1f req/s achieved, max %d in any 1 s (at +%s)", r.Achieved, r.MaxInWindow, r.MaxWindowAt.Round(100*time.Millisecond)),
			Ratio:   fmt.Sprintf("%.1f%%", row.Ratio*100),
			Target:  fmt.Sprintf("≥%.0f%% of %d req/s, never >%d in 1 s", latencyTarget*100, latencyRPS, latencyRPS),
			Met:     row.Ratio >= latencyTarget && r.MaxInWindow <= latencyRPS,
		})
		if s.workers() > 1 {
			row.Note = fmt.Sprintf("%d worker processes sharing the limit", s.workers())
		}
	case Backlog:
		row.check(Check{Against: "peak RSS", Value: fmt.Sprintf("%.0f MB", float64(row.PeakRSS)/(1<<20)),
			Target: fmt.Sprintf("peak RSS <%d MB, constant", backlogRSSMax>>20), Met: row.PeakRSS < backlogRSSMax})
		// A worker started on a backlog has work every moment until it is
		// drained: a long gap between provider requests is a stall.
		r := e.fake.Rate()
		row.check(Check{Against: "longest pause between provider requests", Value: fmt.Sprintf("%s (at +%s)",
			r.LongestPause.Round(time.Millisecond), r.PauseAt.Round(100*time.Millisecond)),
			Target: fmt.Sprintf("<%s (no stall)", backlogMaxPause), Met: r.LongestPause < backlogMaxPause})
	}
	if row.Reports != nil {
		row.check(row.Reports.check())
	}
	if row.NotOK > 0 {
		row.Note = joinNote(row.Note, fmt.Sprintf("%d results not accepted", row.NotOK))
		row.Pass = false
	}
	return row, nil
}

// medianRun returns the run of median ratio to its ceiling (the lower of
// the two middle ones for an even count), noting every run's ratio when
// there were several.
func medianRun(tries []Row) Row {
	if len(tries) == 1 {
		return tries[0]
	}
	sorted := slices.Clone(tries)
	slices.SortFunc(sorted, func(a, b Row) int { return cmp.Compare(a.Ratio, b.Ratio) })
	row := sorted[(len(sorted)-1)/2]
	ratios := make([]string, len(tries))
	for i, t := range tries {
		ratios[i] = fmt.Sprintf("%.0f%%", t.Ratio*100)
	}
	row.Note = joinNote(fmt.Sprintf("median of %d runs (ratios to their ceilings in run order: %s)", len(tries), strings.Join(ratios, ", ")), row.Note)
	return row
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// PrintTable writes the rows as a table, then the ceilings and the checks.
func PrintTable(out io.Writer, rows []Row) {
	fmt.Fprintf(out, "\ntalkrelay bench — %s, %d CPUs (GOMAXPROCS %d), %s\n\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), memTotal())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "profile\tjobs\trecipients\trecipients/s\tp50\tp99\tworker CPU s\tCPU µs/recip\tallocs/recip\tJS writes/recip\tpeak RSS MB\tHTTP reqs\trecips/req\t")
	for _, r := range rows {
		perReq := 0.0
		if r.Requests > 0 {
			perReq = float64(r.FakeRecips) / float64(r.Requests)
		}
		// CPU per recipient over the recipients served in the window
		// (tenants: most of its jobs are still queued at the end).
		served := r.Recipients
		if r.Tenants != nil {
			served = r.Tenants.AResults + r.Tenants.Answered
		}
		allocs := "-"
		if r.Allocs > 0 {
			allocs = fmt.Sprintf("%.0f", float64(r.Allocs)/float64(max(served, 1)))
		}
		writes := "-"
		if r.Writes > 0 {
			writes = fmt.Sprintf("%.3f", float64(r.Writes)/float64(max(served, 1)))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%.1f\t%.0f\t%s\t%s\t%.0f\t%d\t%.1f\t\n",
			r.Name, r.Jobs, r.Recipients, r.RecipPerS, dur(r.P50), dur(r.P99), r.CPU.Seconds(),
			float64(r.CPU.Microseconds())/float64(max(served, 1)), allocs, writes, float64(r.PeakRSS)/(1<<20), r.Requests, perReq)
	}
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "profile\tagainst\tvalue\tratio\ttarget\tmet\t")
	for _, r := range rows {
		for _, ch := range r.Checks {
			met := "yes"
			if !ch.Met {
				met = "NO"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, ch.Against, ch.Value, ch.Ratio, ch.Target, met)
		}
	}
	tw.Flush()
	printReports(out, rows)
	var backlog []Row
	for _, r := range rows {
		if strings.HasPrefix(r.Name, Backlog) {
			backlog = append(backlog, r)
		}
	}
	if len(backlog) == 2 {
		a, b := backlog[0], backlog[1]
		fmt.Fprintf(out, "\nbacklog: peak RSS %.0f MB for %d queued jobs, %.0f MB for %d (×%.2f for ×%.1f the backlog)\n",
			float64(a.PeakRSS)/(1<<20), a.Jobs, float64(b.PeakRSS)/(1<<20), b.Jobs,
			float64(b.PeakRSS)/float64(max(a.PeakRSS, 1)), float64(b.Jobs)/float64(max(a.Jobs, 1)))
	}
	for _, r := range rows {
		if r.Tenants != nil {
			printTenants(out, r)
		}
	}
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(out, "%s: %s\n", r.Name, r.Note)
		}
		if r.MaxJobSize > 1<<20 {
			fmt.Fprintf(out, "%s: largest job %.1f MB\n", r.Name, float64(r.MaxJobSize)/(1<<20))
		}
	}
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d == Unanswered:
		return "unanswered"
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "memory unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb); err == nil {
				return fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return "memory unknown"
}
