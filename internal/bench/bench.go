package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Profile names.
const (
	Single   = "single"
	Campaign = "campaign"
	Latency  = "latency"
	Backlog  = "backlog"
)

// AllProfiles is every profile in the order they run.
var AllProfiles = []string{Single, Campaign, Latency, Backlog}

// Targets of the issue, checked in the table.
const (
	singleTarget   = 0.50 // of the consume+publish+ack ceiling
	campaignTarget = 0.60 // of the results publish ceiling
	latencyTarget  = 0.95 // of the configured requests_per_second
	latencyRPS     = 200
	backlogRSSMax  = 150 << 20
)

// Config selects what runs.
type Config struct {
	// Profiles to run; empty means all.
	Profiles []string
	// Scale multiplies every profile's size (1 = the full sizes).
	Scale float64
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
	Elapsed    time.Duration // first publish (backlog: consumer created) to last result stored
	RecipPerS  float64
	P50, P99   time.Duration
	CPU        time.Duration // worker CPU within Elapsed
	CPUTotal   time.Duration // worker CPU over its whole life (rusage)
	PeakRSS    int64         // worker VmHWM
	Requests   int64
	FakeRecips int64
	// Ceiling and Ratio: single and campaign.
	Ceiling     *ceilingResult
	CeilingKind string
	// Latency profile: the fake's view of the request rate.
	Rate   *RateStats
	Ratio  float64
	Target string
	Pass   bool
	Note   string
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
			fmt.Fprintf(c.Progress, "bench: %s: %d jobs × %d recipients\n", spec.name, spec.w.jobs, spec.w.recipients)
			row, err := runProfile(ctx, c, spec)
			if err != nil {
				return rows, fmt.Errorf("%s: %w", spec.name, err)
			}
			fmt.Fprintf(c.Progress, "bench: %s: %.0f recipients/s, worker %.1f CPU s, peak RSS %.0f MB\n",
				spec.name, row.RecipPerS, row.CPU.Seconds(), float64(row.PeakRSS)/(1<<20))
			rows = append(rows, row)
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
}

func scaled(n int, scale float64) int { return max(1, int(math.Round(float64(n)*scale))) }

func specsOf(profile string, scale float64) []spec {
	naver := func(prefix string, jobs int) workload {
		return workload{prefix: prefix, account: naverAccount, jobs: jobs, recipients: 1}
	}
	switch profile {
	case Single:
		return []spec{{name: Single, profile: Single, w: naver("single", scaled(200_000, scale))}}
	case Campaign:
		return []spec{{name: Campaign, profile: Campaign, w: workload{prefix: "campaign", account: nhnAccount,
			jobs: 20, recipients: scaled(50_000, scale), sender: senderKey}}}
	case Latency:
		// Queued before the worker starts: this profile measures how
		// exactly the worker fills a provider's rate limit, and the bench
		// process, which also stamps the fake provider's arrivals, would
		// otherwise be busy publishing 20,000 jobs during the first seconds
		// and bunch the stamps.
		return []spec{{name: Latency, profile: Latency, latency: 50 * time.Millisecond, prequeue: true,
			w: workload{prefix: "latency", account: kakaoAccount, jobs: scaled(20_000, scale), recipients: 1}}}
	case Backlog:
		big, small := scaled(1_000_000, scale), scaled(250_000, scale)
		return []spec{
			{name: fmt.Sprintf("backlog %s", count(small)), profile: Backlog, prequeue: true, w: naver("backlog-s", small)},
			{name: fmt.Sprintf("backlog %s", count(big)), profile: Backlog, prequeue: true, w: naver("backlog-l", big)},
		}
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

func runProfile(ctx context.Context, c Config, s spec) (Row, error) {
	row := Row{Name: s.name, Jobs: s.w.jobs, Recipients: s.w.total()}
	dir := filepath.Join(c.WorkDir, strings.ReplaceAll(s.name, " ", "-"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return row, err
	}
	store, err := os.MkdirTemp("", "talkrelay-bench-js-")
	if err != nil {
		return row, err
	}
	defer os.RemoveAll(store)

	ns, err := startServer(store)
	if err != nil {
		return row, err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, js, err := connect(ns)
	if err != nil {
		return row, err
	}
	defer nc.Close()
	if err := ensureStreams(ctx, js); err != nil {
		return row, err
	}
	fake, err := StartFake(s.latency, s.profile == Latency)
	if err != nil {
		return row, err
	}
	defer fake.Close()

	cfgPath := filepath.Join(dir, "worker.yaml")
	if err := writeConfig(cfgPath, workerConfig{
		NATSURL: ns.ClientURL(), FakeURL: fake.URL(), MaxJobBytes: 8 << 20,
		ServiceID: fakeServiceID, AppKey: fakeAppKey, Sender: naverSender, SenderKey: senderKey,
		KakaoRPS: latencyRPS, KakaoConc: 32, LogLevel: "warn",
	}); err != nil {
		return row, err
	}
	subject := streams.JobSubject(s.w.account, "alimtalk")

	var pub publishStats
	if s.prequeue {
		if pub, err = publish(ctx, nc, subject, s.w); err != nil {
			return row, err
		}
		fmt.Fprintf(c.Progress, "bench: %s: queued %d jobs (%.0f MB) in %s\n", s.name, s.w.jobs, float64(pub.Bytes)/(1<<20), pub.Last.Sub(pub.First).Round(time.Millisecond))
	}

	argv := []string{c.WorkerBin, "--config", cfgPath}
	if c.WorkerArgv != nil {
		argv = c.WorkerArgv(cfgPath, strings.ReplaceAll(s.name, " ", "-"))
	}
	wp, err := startWorker(argv, filepath.Join(dir, "worker.log"))
	if err != nil {
		return row, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = wp.stop(30 * time.Second)
		}
	}()
	created, err := waitConsumer(ctx, js, wp)
	if err != nil {
		return row, err
	}
	pid := wp.cmd.Process.Pid
	cpu0, err := cpuTime(pid)
	if err != nil {
		return row, err
	}

	start := created
	if !s.prequeue {
		if pub, err = publish(ctx, nc, subject, s.w); err != nil {
			return row, err
		}
		start = pub.First
	}
	row.MaxJobSize = pub.MaxJobBytes
	last, err := waitResults(ctx, js, uint64(s.w.total()), 90*time.Second, wp)
	if err != nil {
		return row, err
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return row, err
	}
	if row.PeakRSS, err = peakRSS(pid); err != nil {
		return row, err
	}
	if err := waitAcked(ctx, js, 60*time.Second); err != nil {
		return row, err
	}
	stopped = true
	if err := wp.stop(60 * time.Second); err != nil {
		return row, err
	}
	if ru, ok := wp.cmd.ProcessState.SysUsage().(*syscallRusage); ok {
		row.CPUTotal = rusageCPU(ru)
	}
	row.CPU = cpu1 - cpu0
	row.Elapsed = last.Sub(start)
	row.RecipPerS = float64(s.w.total()) / row.Elapsed.Seconds()

	rr, err := readResults(ctx, js, s.w.total())
	if err != nil {
		return row, err
	}
	row.Results, row.NotOK, row.P50, row.P99 = rr.N, rr.NotOK, rr.P50, rr.P99
	fs := fake.Stats()
	row.Requests, row.FakeRecips = fs.Requests, fs.Recipients

	switch s.profile {
	case Single, Campaign:
		fmt.Fprintf(c.Progress, "bench: %s: ceiling\n", s.name)
		ceil, err := runCeiling(ctx, ns, s.w, rr.Sample, !s.prequeue)
		if err != nil {
			return row, err
		}
		row.Ceiling = &ceil
		row.Ratio = row.RecipPerS / ceil.ResultsPerSec()
		if s.profile == Single {
			row.CeilingKind = "consume+publish 1 result+ack"
			row.Target, row.Pass = fmt.Sprintf("≥%.0f%% of ceiling", singleTarget*100), row.Ratio >= singleTarget
		} else {
			row.CeilingKind = "results publish"
			row.Target, row.Pass = fmt.Sprintf("≥%.0f%% of ceiling", campaignTarget*100), row.Ratio >= campaignTarget
		}
	case Latency:
		r := fake.Rate()
		row.Rate = &r
		row.Ratio = r.Achieved / latencyRPS
		row.Target = fmt.Sprintf("≥%.0f%% of %d req/s, never >%d in 1 s", latencyTarget*100, latencyRPS, latencyRPS)
		row.Pass = row.Ratio >= latencyTarget && r.MaxInWindow <= latencyRPS
	case Backlog:
		row.Target = fmt.Sprintf("peak RSS <%d MB, constant", backlogRSSMax>>20)
		row.Pass = row.PeakRSS < backlogRSSMax
	}
	if row.NotOK > 0 {
		row.Note = fmt.Sprintf("%d results not accepted", row.NotOK)
		row.Pass = false
	}
	return row, nil
}

// PrintTable writes the rows as a table, then the ceilings and the checks.
func PrintTable(out io.Writer, rows []Row) {
	fmt.Fprintf(out, "\ntalkrelay bench — %s, %d CPUs (GOMAXPROCS %d), %s\n\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), memTotal())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "profile\tjobs\trecipients\trecipients/s\tp50\tp99\tworker CPU s\tCPU µs/recip\tpeak RSS MB\tHTTP reqs\trecips/req\t")
	for _, r := range rows {
		perReq := 0.0
		if r.Requests > 0 {
			perReq = float64(r.FakeRecips) / float64(r.Requests)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%.1f\t%.0f\t%.0f\t%d\t%.1f\t\n",
			r.Name, r.Jobs, r.Recipients, r.RecipPerS, dur(r.P50), dur(r.P99), r.CPU.Seconds(),
			float64(r.CPU.Microseconds())/float64(max(r.Recipients, 1)), float64(r.PeakRSS)/(1<<20), r.Requests, perReq)
	}
	tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "profile\tagainst\tvalue\tratio\ttarget\tmet\t")
	for _, r := range rows {
		met := "yes"
		if !r.Pass {
			met = "NO"
		}
		switch {
		case r.Ceiling != nil:
			fmt.Fprintf(tw, "%s\tceiling (%s), same run\t%.0f results/s\t%.0f%%\t%s\t%s\t\n",
				r.Name, r.CeilingKind, r.Ceiling.ResultsPerSec(), r.Ratio*100, r.Target, met)
		case r.Rate != nil:
			fmt.Fprintf(tw, "%s\trate limit %d req/s\t%.1f req/s achieved, max %d in any 1 s (at +%s)\t%.1f%%\t%s\t%s\t\n",
				r.Name, latencyRPS, r.Rate.Achieved, r.Rate.MaxInWindow, r.Rate.MaxWindowAt.Round(100*time.Millisecond), r.Ratio*100, r.Target, met)
		default:
			fmt.Fprintf(tw, "%s\tpeak RSS\t%.0f MB\t\t%s\t%s\t\n", r.Name, float64(r.PeakRSS)/(1<<20), r.Target, met)
		}
	}
	tw.Flush()
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
