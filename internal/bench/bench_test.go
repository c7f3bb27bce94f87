package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// TestBenchSmoke runs every profile but the reports ones
// (TestBenchReportsSmoke) at a tiny size through the real harness: server,
// fake provider, worker subprocess, ceiling. It checks that every
// recipient got an accepted result and that the table prints; it never
// checks speed.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the worker: not with -short")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, progress strings.Builder
	plain := []string{Single, Single3, Campaign, Latency, Latency3, Backlog, Tenants}
	rows, err := Run(ctx, Config{Profiles: plain, Scale: 0.002, WorkDir: t.TempDir(), Out: &out, Progress: &progress})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	if len(rows) != 8 {
		t.Fatalf("got %d rows, want 8 (single, single3, campaign, latency, latency3, two backlogs, tenants)", len(rows))
	}
	for _, r := range rows {
		if r.PeakRSS <= 0 || r.Elapsed <= 0 {
			t.Errorf("%s: peak RSS %d, elapsed %s: not measured", r.Name, r.PeakRSS, r.Elapsed)
		}
		if len(r.Checks) == 0 {
			t.Errorf("%s: no target checked", r.Name)
		}
		if r.NotOK != 0 {
			t.Errorf("%s: %d results not accepted", r.Name, r.NotOK)
		}
		if r.Name == Tenants {
			// tenant-a is never drained (that is the point), and how many
			// probes are answered is what the profile measures: only check
			// that it measured.
			ts := r.Tenants
			if ts == nil || ts.Probes != 100 || ts.AResults == 0 || ts.ABacklog != r.Jobs-ts.Probes {
				t.Errorf("tenants: %+v for %d jobs", ts, r.Jobs)
			}
			continue
		}
		if r.Results != r.Recipients {
			t.Errorf("%s: %d results for %d recipients", r.Name, r.Results, r.Recipients)
		}
		if r.Allocs == 0 || r.Writes < uint64(r.Results) {
			t.Errorf("%s: allocations %d, JetStream writes %d for %d results: not measured", r.Name, r.Allocs, r.Writes, r.Results)
		}
		if r.FakeRecips != int64(r.Recipients) {
			t.Errorf("%s: the fake provider saw %d recipients, want %d", r.Name, r.FakeRecips, r.Recipients)
		}
		if (r.Name == Single || r.Name == Single3 || r.Name == Campaign) && (r.Ceiling == nil || r.Ceiling.Results != r.Recipients) {
			t.Errorf("%s: ceiling %+v, want %d results", r.Name, r.Ceiling, r.Recipients)
		}
		if r.Name == Single3 && r.Replicas != 3 {
			t.Errorf("single3: %d worker processes, want 3", r.Replicas)
		}
		if r.Name == Campaign && len(r.Checks) != 2 {
			t.Errorf("campaign: checks %+v, want the ceiling and peak RSS", r.Checks)
		}
		if (r.Name == Latency || r.Name == Latency3) && (r.Rate == nil || r.Requests != int64(r.Recipients)) {
			t.Errorf("%s: %d requests for %d recipients, rate %+v", r.Name, r.Requests, r.Recipients, r.Rate)
		}
		if r.Name == Latency3 && r.Replicas != 3 {
			t.Errorf("latency3: %d worker processes, want 3", r.Replicas)
		}
	}
	if !strings.Contains(out.String(), "recipients/s") {
		t.Errorf("no table:\n%s", out.String())
	}
	t.Log("\n" + out.String())
}

// TestBenchReportsSmoke runs singlerep and campaignrep at a tiny size,
// side by side (campaignrep waits minutes for NHN's update windows to
// settle), and checks that every recipient got one report, delivered,
// through the fake's report queries, and that the reports table prints.
func TestBenchReportsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the worker: not with -short")
	}
	t.Parallel()
	for _, profile := range []string{SingleRep, CampaignRep} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			var out, progress strings.Builder
			rows, err := Run(ctx, Config{Profiles: []string{profile}, Scale: 0.002, WorkDir: t.TempDir(), Out: &out, Progress: &progress})
			if err != nil {
				t.Fatalf("run: %v\n%s", err, progress.String())
			}
			if len(rows) != 1 || rows[0].Reports == nil {
				t.Fatalf("rows %+v: want one, with reports", rows)
			}
			r, rep := rows[0], rows[0].Reports
			if r.Results != r.Recipients || r.NotOK != 0 || r.Ceiling == nil {
				t.Errorf("%d results (%d not accepted) for %d recipients, ceiling %+v", r.Results, r.NotOK, r.Recipients, r.Ceiling)
			}
			if rep.Want != r.Recipients || rep.Reported != rep.Want || rep.Delivered != rep.Want || rep.Twice != 0 || rep.Stalled != "" {
				t.Errorf("reports %+v for %d recipients: want one each, delivered", rep, r.Recipients)
			}
			if rep.Queries == 0 || rep.Writes < uint64(2*r.Recipients) || rep.CPU <= 0 || rep.Tail <= 0 {
				t.Errorf("reports %+v: queries, writes, CPU or tail not measured", rep)
			}
			if c := r.Checks[len(r.Checks)-1]; c.Against != "delivery reports" || !c.Met {
				t.Errorf("last check %+v: want the reports' one, met", c)
			}
			if !strings.Contains(out.String(), "reports of") {
				t.Errorf("no reports table:\n%s", out.String())
			}
			t.Log("\n" + out.String())
		})
	}
}

// The table shows the run of median ratio, whatever the order of the runs,
// and notes every run's ratio.
func TestMedianRun(t *testing.T) {
	t.Parallel()
	tries := []Row{{Name: "a", Ratio: 0.9}, {Name: "b", Ratio: 0.5}, {Name: "c", Ratio: 0.7, Note: "own note"}}
	got := medianRun(tries)
	if got.Name != "c" || got.Note != "median of 3 runs (ratios to their ceilings in run order: 90%, 50%, 70%); own note" {
		t.Errorf("median run %q, note %q", got.Name, got.Note)
	}
	if one := medianRun(tries[:1]); one.Name != "a" || one.Note != "" {
		t.Errorf("a single run: %q, note %q; want it as it is", one.Name, one.Note)
	}
}

func TestFakeRate(t *testing.T) {
	t.Parallel()
	f := &Fake{}
	base := time.Now().UnixNano()
	for i := range 5 {
		f.times = append(f.times, base+int64(i)*int64(250*time.Millisecond)) // 4/s
	}
	r := f.Rate()
	if r.MaxInWindow != 4 || r.Achieved < 3.99 || r.Achieved > 4.01 {
		t.Errorf("rate %+v, want 4/s and at most 4 in a window", r)
	}
}

func TestPubTime(t *testing.T) {
	t.Parallel()
	w := workload{prefix: "x", account: "a", jobs: 1, recipients: 2}
	data := w.build(0, w.recipientsJSON(0), 1234567890123)
	if n, ok := pubTime(data); !ok || n != 1234567890123 {
		t.Errorf("pubTime = %d, %v", n, ok)
	}
}

func TestProbePercentiles(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	answered := []time.Duration{30 * ms, 10 * ms, 20 * ms}
	if p50, p99, mx := probePercentiles(answered, 3); p50 != 20*ms || p99 != 30*ms || mx != 30*ms {
		t.Errorf("all answered: p50 %s, p99 %s, max %s", p50, p99, mx)
	}
	// 3 of 4 answered: the fourth counts as the slowest.
	if p50, p99, mx := probePercentiles(answered, 4); p50 != 30*ms || p99 != Unanswered || mx != Unanswered {
		t.Errorf("one unanswered: p50 %s, p99 %s, max %s", p50, p99, mx)
	}
	if p50, _, _ := probePercentiles(nil, 100); p50 != Unanswered || dur(p50) != "unanswered" {
		t.Errorf("none answered: p50 %s (%q)", p50, dur(p50))
	}
}

// The bench must find the worker's consumers both as they are (one shared
// consumer) and as the per-account intake names them.
func TestWorkerConsumersFor(t *testing.T) {
	t.Parallel()
	ci := func(name string, pending uint64, ackPending int) *jetstream.ConsumerInfo {
		return &jetstream.ConsumerInfo{Name: name, NumPending: pending, NumAckPending: ackPending}
	}
	shared := []*jetstream.ConsumerInfo{ci(streams.WorkerConsumer, 7, 3)}
	if got, ok := workerConsumersFor(shared, []string{"a", "b"}); !ok || len(got) != 1 || got[0].Name != streams.WorkerConsumer {
		t.Errorf("shared consumer: %v, %v", got, ok)
	}
	perAccount := []*jetstream.ConsumerInfo{
		ci(streams.WorkerConsumer+"-a", 100, 16), ci(streams.WorkerConsumer+"-a-urgent", 0, 0),
		ci(streams.WorkerConsumer+"-b", 2, 1), ci(streams.WorkerConsumer+"-b-urgent", 1, 0),
	}
	got, ok := workerConsumersFor(perAccount, []string{"a", "b"})
	if !ok || len(got) != 2 || got[0].Name != streams.WorkerConsumer+"-a" || got[1].Name != streams.WorkerConsumer+"-b" {
		t.Errorf("per-account consumers: %v, %v", got, ok)
	}
	if _, ok := workerConsumersFor(perAccount[:2], []string{"a", "b"}); ok {
		t.Error("b's consumer is missing, yet found")
	}
	if p := pendingOf(perAccount); p.Consumers != 4 || p.Undelivered != 103 || p.InFlight != 17 {
		t.Errorf("pending summed over consumers: %+v", p)
	}
	if p := pendingOf(shared); p.Consumers != 1 || p.Undelivered != 7 || p.InFlight != 3 {
		t.Errorf("pending of the shared consumer: %+v", p)
	}
}

// The reports table gives per recipient what the reports cost, and why a
// wait stalled; rows without reports print nothing of it.
func TestPrintReports(t *testing.T) {
	t.Parallel()
	var none strings.Builder
	printReports(&none, []Row{{Name: Single}})
	if none.Len() != 0 {
		t.Errorf("no reports rows, yet printed:\n%s", none.String())
	}
	t0 := time.Now()
	rep := &ReportsStats{Want: 1000, Stored: 1000, Reported: 1000, Delivered: 1000, Queries: 20, First: t0, Last: t0.Add(2 * time.Second),
		Tail: 12 * time.Second, CPU: 500 * time.Millisecond, Allocs: 300_000, PeakRSS: 64 << 20, Writes: 2022, Stalled: "no report for 4m0s"}
	var out strings.Builder
	printReports(&out, []Row{{Name: SingleRep, Reports: rep}})
	line := strings.Fields(strings.Split(out.String(), "\n")[2])
	want := []string{SingleRep, "1000", "1000", "0", "1.000", "0.0200", "500", "12.00s", "500", "300", "2.022", "64"}
	if strings.Join(line, " ") != strings.Join(want, " ") {
		t.Errorf("reports line %q, want %q", line, want)
	}
	if !strings.Contains(out.String(), "singlerep: reports stalled: no report for 4m0s") {
		t.Errorf("no stall line:\n%s", out.String())
	}
}
