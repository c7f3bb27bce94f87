package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// The tenants profile: tenant-a saturated by a backlog behind its rate
// limit, tenant-b probed.
const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
	// tenantARPS is tenant-a's rate limit; Kakao sends one recipient a
	// request, so it is also its recipients/s.
	tenantARPS = 5
	// tenantsProbeWait is how long after the last probe the bench waits
	// for the probes' results; a probe without a result by then is
	// unanswered.
	tenantsProbeWait = 5 * time.Second
	// tenantsShutdownGrace is the worker's shutdown_grace: it is stopped
	// holding tenant-a jobs that would take hours to send.
	tenantsShutdownGrace = 2 * time.Second
	// tenantsUrgent urgent probes go to tenant-a itself, one every
	// tenantsUrgentEvery, behind its own backlog; each must be answered
	// within tenantsUrgentMax.
	tenantsUrgent      = 20
	tenantsUrgentEvery = 500 * time.Millisecond
	tenantsUrgentMax   = 2 * time.Second
	urgentPrefix       = "tenant-a-urgent"
)

// Unanswered is the latency of a probe whose result was not stored by the
// end of the wait, and a percentile that fell on one.
const Unanswered = time.Duration(math.MaxInt64)

// TenantsStats is what the tenants profile measured.
type TenantsStats struct {
	// ABacklog is how many tenant-a jobs were queued before the worker
	// started; AResults how many of their results were stored between the
	// worker's consumer being created and the end of the probes' wait
	// (Window), at ARate a second; ARemaining how many tenant-a jobs were
	// still in the jobs stream at the end (not yet acknowledged: queued or
	// held by the worker).
	ABacklog   int
	AResults   int
	ARate      float64
	ARemaining uint64
	Window     time.Duration
	// Pending is summed over the consumers of the jobs stream at the end.
	Pending consumersPending
	// Probes tenant-b jobs were published, one every Interval; Answered of
	// them had a result stored by Wait after the last. P50, P99 and Max are
	// publish→result over all probes, Unanswered ones counting as slowest.
	Probes, Answered int
	Interval, Wait   time.Duration
	P50, P99, Max    time.Duration
	// Urgent probes on tenant-a (its urgent subject, behind its own
	// backlog): how many, answered, and their publish→result latencies.
	Urgent, UrgentAnswered       int
	UrgentP50, UrgentP99, UrgMax time.Duration
}

func runTenants(ctx context.Context, c Config, s spec) (Row, error) {
	row := Row{Name: s.name, Jobs: s.w.jobs + s.probes, Recipients: s.w.total() + s.probes, Replicas: 1, Pass: true}
	ts := &TenantsStats{ABacklog: s.w.jobs, Probes: s.probes, Interval: s.probeInterval, Wait: tenantsProbeWait}
	row.Tenants = ts
	e, err := setup(ctx, c, s, workerConfig{Tenants: true, TenantARPS: tenantARPS, ShutdownGrace: tenantsShutdownGrace})
	defer e.close()
	if err != nil {
		return row, err
	}
	pub, err := publish(ctx, e.nc, streams.JobSubject(tenantA, "alimtalk"), s.w)
	if err != nil {
		return row, err
	}
	fmt.Fprintf(c.Progress, "bench: %s: queued %d %s jobs (%.0f MB) in %s\n", s.name, s.w.jobs, tenantA,
		float64(pub.Bytes)/(1<<20), pub.Last.Sub(pub.First).Round(time.Millisecond))

	ws, err := e.startWorkers(c, s, 1)
	if err != nil {
		return row, err
	}
	stopped := false
	defer func() {
		if !stopped {
			ws.kill()
		}
	}()
	start, err := waitConsumer(ctx, e.js, []string{tenantA, tenantB}, 1, ws)
	if err != nil {
		return row, err
	}
	_, cpu0, err := ws.cpu()
	if err != nil {
		return row, err
	}

	probes := workload{prefix: "tenant-b-probe", account: tenantB, jobs: s.probes, recipients: 1}
	urgent := workload{prefix: urgentPrefix, account: tenantA, jobs: tenantsUrgent, recipients: 1}
	ts.Urgent = urgent.jobs
	fmt.Fprintf(c.Progress, "bench: %s: %d %s probes, one every %s; %d urgent %s probes, one every %s\n",
		s.name, s.probes, tenantB, s.probeInterval, urgent.jobs, tenantA, tenantsUrgentEvery)
	urgentErr := make(chan error, 1)
	go func() { urgentErr <- publishProbes(ctx, e.js, urgent, true, tenantsUrgentEvery, ws) }()
	err = publishProbes(ctx, e.js, probes, false, s.probeInterval, ws)
	if uerr := <-urgentErr; err == nil {
		err = uerr
	}
	if err != nil {
		return row, err
	}
	// The measured window ends once every probe, tenant-b's and the
	// urgent ones, has its result (or the wait is over).
	want := map[string]int{streams.ResultsPrefix + "." + tenantB + ".>": s.probes}
	for i := range urgent.jobs {
		want[streams.ResultsPrefix+"."+tenantA+".*."+streams.JobToken(urgent.jobID(i))] = 1
	}
	end, err := waitProbes(ctx, e.js, want, tenantsProbeWait, ws)
	if err != nil {
		return row, err
	}
	_, cpu1, err := ws.cpu()
	if err != nil {
		return row, err
	}
	if row.PeakRSS, row.RSSSum, err = ws.rss(); err != nil {
		return row, err
	}
	if ts.ARemaining, err = streams.SubjectCount(ctx, e.js, streams.JobsStream, streams.JobsPrefix+"."+tenantA+".>"); err != nil {
		return row, err
	}
	if ts.Pending, err = workerPending(ctx, e.js); err != nil {
		return row, err
	}
	stopped = true
	if err := ws.stop(60 * time.Second); err != nil {
		return row, err
	}
	row.CPUTotal = ws.cpuTotal()
	row.CPU = cpu1 - cpu0
	row.Elapsed = end.Sub(start)
	ts.Window = row.Elapsed

	tr, err := readTenantResults(ctx, e.js, start, end)
	if err != nil {
		return row, err
	}
	ts.AResults, ts.Answered, ts.UrgentAnswered = tr.A, len(tr.Probe), len(tr.Urgent)
	ts.ARate = float64(ts.AResults) / ts.Window.Seconds()
	ts.P50, ts.P99, ts.Max = probePercentiles(tr.Probe, s.probes)
	ts.UrgentP50, ts.UrgentP99, ts.UrgMax = probePercentiles(tr.Urgent, ts.Urgent)
	row.Results, row.NotOK = tr.A+len(tr.Probe)+len(tr.Urgent), tr.NotOK
	row.RecipPerS, row.P50, row.P99 = ts.ARate, ts.P50, ts.P99
	fs := e.fake.Stats()
	row.Requests, row.FakeRecips = fs.Requests, fs.Recipients

	row.check(Check{
		Against: fmt.Sprintf("%s probes publish→result, %s saturated", tenantB, tenantA),
		Value: fmt.Sprintf("p50 %s, p99 %s, max %s; %d of %d answered",
			dur(ts.P50), dur(ts.P99), dur(ts.Max), ts.Answered, ts.Probes),
		Target: fmt.Sprintf("every probe within %s (p99 <%s)", tenantsProbeMax, tenantsProbeMax),
		Met:    ts.Answered == ts.Probes && ts.Max < tenantsProbeMax,
	})
	row.check(Check{
		Against: fmt.Sprintf("%s urgent probes publish→result, behind its own backlog", tenantA),
		Value: fmt.Sprintf("p50 %s, p99 %s, max %s; %d of %d answered",
			dur(ts.UrgentP50), dur(ts.UrgentP99), dur(ts.UrgMax), ts.UrgentAnswered, ts.Urgent),
		Target: fmt.Sprintf("every urgent probe within %s", tenantsUrgentMax),
		Met:    ts.UrgentAnswered == ts.Urgent && ts.UrgMax < tenantsUrgentMax,
	})
	row.check(Check{
		Against: fmt.Sprintf("%s backlog at the end", tenantA),
		Value:   fmt.Sprintf("%d of %d jobs still queued", ts.ARemaining, ts.ABacklog),
		Target:  "> 0 (saturated throughout)",
		Met:     ts.ARemaining > 0,
	})
	if row.NotOK > 0 {
		row.Note = fmt.Sprintf("%d results not accepted", row.NotOK)
		row.Pass = false
	}
	return row, nil
}

// publishProbes publishes w's jobs one every interval, each waiting for
// its publish ack; each job's publish time is taken just before it is
// handed to the client.
func publishProbes(ctx context.Context, js jetstream.JetStream, w workload, urgent bool, interval time.Duration, procs workers) error {
	subject := streams.JobSubjectFor(w.account, "alimtalk", urgent)
	t0 := time.Now()
	for i := range w.jobs {
		if err := procs.pause(ctx, max(0, time.Until(t0.Add(time.Duration(i)*interval)))); err != nil {
			return err
		}
		msg := nats.NewMsg(subject)
		msg.Data = w.build(i, w.recipientsJSON(i), time.Now().UnixNano())
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := js.PublishMsg(pctx, msg, jetstream.WithMsgID(w.jobID(i)))
		cancel()
		if err != nil {
			return fmt.Errorf("publish probe %d: %w", i, err)
		}
	}
	return nil
}

// waitProbes waits until the results stream holds, for each subject
// filter of want, at least as many results as it says, or until wait has
// passed, and returns when it stopped waiting: the end of the measured
// window.
func waitProbes(ctx context.Context, js jetstream.JetStream, want map[string]int, wait time.Duration, procs workers) (time.Time, error) {
	deadline := time.Now().Add(wait)
	for {
		done := true
		for filter, n := range want {
			got, err := streams.SubjectCount(ctx, js, streams.ResultsStream, filter)
			if err != nil {
				return time.Time{}, err
			}
			if got < uint64(n) {
				done = false
				break
			}
		}
		now := time.Now()
		if done || now.After(deadline) {
			return now, nil
		}
		if err := procs.pause(ctx, 50*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// tenantResults is the results stream after a tenants run.
type tenantResults struct {
	A      int             // tenant-a backlog results stored within [start, end]
	Probe  []time.Duration // publish→result of each probe answered by end
	Urgent []time.Duration // the same for tenant-a's urgent probes
	NotOK  int
}

// readTenantResults reads every result stored so far (tenant-a's are few:
// its rate limit holds them to a handful a second).
func readTenantResults(ctx context.Context, js jetstream.JetStream, start, end time.Time) (tenantResults, error) {
	var r tenantResults
	s, err := js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		return r, err
	}
	n := s.CachedInfo().State.Msgs
	if n == 0 {
		return r, nil
	}
	cons, err := js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return r, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return r, err
	}
	defer it.Stop()
	seen := map[string]bool{}
	for range n {
		m, err := it.Next()
		if err != nil {
			return r, fmt.Errorf("read results: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return r, err
		}
		if seen[m.Subject()] || md.Timestamp.After(end) {
			continue
		}
		seen[m.Subject()] = true
		if !strings.Contains(string(m.Data()), `"status":"accepted"`) {
			r.NotOK++
		}
		// talkrelay.results.<account>.<status>.<job>
		switch account := strings.Split(m.Subject(), ".")[2]; account {
		case tenantA:
			if strings.HasPrefix(m.Subject()[strings.LastIndexByte(m.Subject(), '.')+1:], urgentPrefix) {
				if pub, ok := pubTime(m.Data()); ok {
					r.Urgent = append(r.Urgent, md.Timestamp.Sub(time.Unix(0, pub)))
				}
			} else if !md.Timestamp.Before(start) {
				r.A++
			}
		case tenantB:
			if pub, ok := pubTime(m.Data()); ok {
				r.Probe = append(r.Probe, md.Timestamp.Sub(time.Unix(0, pub)))
			}
		}
	}
	return r, nil
}

// probePercentiles returns p50, p99 and max of n probes' latencies, of
// which answered had a result: the others count as slowest (Unanswered).
func probePercentiles(answered []time.Duration, n int) (p50, p99, mx time.Duration) {
	if n == 0 {
		return 0, 0, 0
	}
	lat := slices.Clone(answered)
	slices.Sort(lat)
	at := func(i int) time.Duration {
		if i < len(lat) {
			return lat[i]
		}
		return Unanswered
	}
	return at(n / 2), at(min(n-1, n*99/100)), at(n - 1)
}

func printTenants(out io.Writer, r Row) {
	t := r.Tenants
	fmt.Fprintf(out, "\ntenants: %s (Kakao, 1 recipient a request, limit %d req/s): %d jobs queued before the worker started; %d sent in %.1f s (%.1f recipients/s); %d still in the jobs stream at the end\n",
		tenantA, tenantARPS, t.ABacklog, t.AResults, t.Window.Seconds(), t.ARate, t.ARemaining)
	fmt.Fprintf(out, "tenants: %s (Kakao, no limit): %d probes, one every %s; %d answered by %s after the last; publish→result p50 %s, p99 %s, max %s\n",
		tenantB, t.Probes, t.Interval, t.Answered, t.Wait, dur(t.P50), dur(t.P99), dur(t.Max))
	fmt.Fprintf(out, "tenants: %s urgent probes (its urgent subject, behind its own backlog): %d, one every %s; %d answered; publish→result p50 %s, p99 %s, max %s\n",
		tenantA, t.Urgent, tenantsUrgentEvery, t.UrgentAnswered, dur(t.UrgentP50), dur(t.UrgentP99), dur(t.UrgMax))
	fmt.Fprintf(out, "tenants: at the end, the %d consumer(s) of %s: %d jobs not delivered yet, %d delivered and not acknowledged\n",
		t.Pending.Consumers, streams.JobsStream, t.Pending.Undelivered, t.Pending.InFlight)
}
