package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// The reports profiles (singlerep, campaignrep) run single's and
// campaign's workloads with reports.enabled on the account, against the
// Fake's report queries (every message delivered), and wait for one
// report per recipient after the last result.

// reportsStall is how long a reports profile waits for the next report
// before it gives up: NHN's result updates are read a minute at a time,
// two minutes after the minute ends, so the first report of a campaign
// comes up to three minutes after its sends.
const reportsStall = 4 * time.Minute

// ReportsStats is what a reports profile's delivery reports cost.
type ReportsStats struct {
	Want      int // accepted recipients, each owed one report
	Stored    int // reports in the reports stream
	Reported  int // distinct recipients with a report
	Twice     int // recipients with more than one report
	Delivered int
	// Queries is the report requests the fake served.
	Queries int64
	// First and Last are the store times of the first and last report;
	// Tail is the last result's store time to the last report's.
	First, Last time.Time
	Tail        time.Duration
	// CPU and Allocs are the worker's from the first publish to the last
	// report (or the stall); PeakRSS its peak by then.
	CPU     time.Duration
	Allocs  uint64
	PeakRSS int64
	// Writes is every message the workers stored in JetStream: results,
	// send records, reports and the report pollers' leases and cursors.
	Writes uint64
	// Stalled says why the wait ended before every recipient had its
	// report ("" when none is missing): the worker log's last failed poll.
	Stalled string
}

// PerSec is reports stored per second, first report to last.
func (r *ReportsStats) PerSec() float64 {
	d := r.Last.Sub(r.First).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(r.Stored) / d
}

// reportsCursorKey is the talkrelay_reports key of the cursor of the
// poller that reports w's account: NHN's accounts are polled per kind.
func reportsCursorKey(w workload) string {
	if w.account == nhnAccount {
		return "cursor." + nhnAccount + ".alimtalk"
	}
	return "cursor." + w.account
}

// waitReportPoller waits until the poller of w's account has saved its
// first cursor: a NAVER poller starts at the end of the results stream,
// so results stored before its first poll would never be reported.
func waitReportPoller(ctx context.Context, js jetstream.JetStream, w workload, procs workers) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		kv, err := js.KeyValue(ctx, streams.ReportsBucket)
		if err == nil {
			_, err = kv.Get(ctx, reportsCursorKey(w))
		}
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound):
			return fmt.Errorf("report poller cursor: %w", err)
		case time.Now().After(deadline):
			return fmt.Errorf("no report poller cursor %s after 30s", reportsCursorKey(w))
		}
		if err := procs.pause(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitReports waits, with the workers running, until the reports stream
// holds want reports or none came for reportsStall, and measures the
// workers from cpu0 and mallocs0 (taken before the first publish) to then.
func waitReports(ctx context.Context, js jetstream.JetStream, procs workers, want int, lastResult time.Time, cpu0 time.Duration, mallocs0 uint64) (*ReportsStats, error) {
	r := &ReportsStats{Want: want}
	var last uint64
	progress := time.Now()
	for {
		s, err := js.Stream(ctx, streams.ReportsStream)
		if err != nil {
			return nil, err
		}
		st := s.CachedInfo().State
		r.Stored, r.First, r.Last = int(st.Msgs), st.FirstTime, st.LastTime
		if st.Msgs >= uint64(want) {
			break
		}
		if st.Msgs != last {
			last, progress = st.Msgs, time.Now()
		} else if time.Since(progress) > reportsStall {
			r.Stalled = fmt.Sprintf("no report for %s", reportsStall)
			break
		}
		if err := procs.pause(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if r.Stored > 0 {
		r.Tail = r.Last.Sub(lastResult)
	}
	_, cpu, err := procs.cpu()
	if err != nil {
		return nil, err
	}
	r.CPU = cpu - cpu0
	if mallocs, ok, err := procs.mallocs(ctx); err != nil {
		return nil, err
	} else if ok {
		r.Allocs = mallocs - mallocs0
	}
	if r.PeakRSS, _, err = procs.rss(); err != nil {
		return nil, err
	}
	return r, nil
}

// finish completes r once the workers stopped: it reads every report
// (w's recipients reported, twice, delivered), adds the reports' writes
// to the results' and send records' (writes) and, if the wait stalled,
// the worker log's last failed poll.
func (r *ReportsStats) finish(ctx context.Context, js jetstream.JetStream, w workload, procs workers, queries int64, writes uint64) error {
	r.Queries = queries
	n := writes
	for _, name := range []string{streams.ReportsStream, "KV_" + streams.ReportsBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return err
		}
		n += s.CachedInfo().State.LastSeq
	}
	r.Writes = n
	if err := r.read(ctx, js, w); err != nil {
		return err
	}
	if r.Stalled != "" {
		for _, p := range procs {
			if line := lastLine(p.logFile.Name(), "report poll failed"); line != "" {
				r.Stalled += "; worker log: " + line
			}
		}
	}
	return nil
}

// read reads the reports stream with an ordered consumer and counts the
// recipients of w reported once, more than once, and delivered.
func (r *ReportsStats) read(ctx context.Context, js jetstream.JetStream, w workload) error {
	if r.Stored == 0 {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, streams.ReportsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return err
	}
	defer it.Stop()
	seen := make([]uint64, (w.total()+63)/64)
	for range r.Stored {
		m, err := it.Next()
		if err != nil {
			return fmt.Errorf("read reports: %w", err)
		}
		var ev struct {
			JobID string `json:"job_id"`
			Index int    `json:"recipient_index"`
			State string `json:"state"`
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			return fmt.Errorf("report %s: %w", m.Subject(), err)
		}
		i, ok := w.recipientOf(ev.JobID, ev.Index)
		if !ok {
			return fmt.Errorf("report of %s/%d: not a recipient of the workload", ev.JobID, ev.Index)
		}
		if seen[i/64]&(1<<(i%64)) != 0 {
			r.Twice++
			continue
		}
		seen[i/64] |= 1 << (i % 64)
		r.Reported++
		if ev.State == "delivered" {
			r.Delivered++
		}
	}
	return nil
}

// recipientOf numbers recipient index of job jobID of w from 0.
func (w workload) recipientOf(jobID string, index int) (int, bool) {
	num, ok := strings.CutPrefix(jobID, w.prefix+"-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 || i >= w.jobs || index < 0 || index >= w.recipients || w.jobID(i) != jobID {
		return 0, false
	}
	return i*w.recipients + index, true
}

// check is the profile's report target: one report per accepted
// recipient, none twice.
func (r *ReportsStats) check() Check {
	return Check{
		Against: "delivery reports",
		Value:   fmt.Sprintf("%d of %d recipients reported, %d twice", r.Reported, r.Want, r.Twice),
		Target:  "one report per accepted recipient",
		Met:     r.Reported == r.Want && r.Twice == 0,
	}
}

// lastLine is the last line of the file at path that contains s,
// shortened to 300 bytes ("" if none).
func lastLine(path, s string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			last = sc.Text()
		}
	}
	if len(last) > 300 {
		last = last[:300] + "…"
	}
	return last
}

// printReports writes the reports profiles' costs, one line each.
func printReports(out io.Writer, rows []Row) {
	some := false
	for _, r := range rows {
		some = some || r.Reports != nil
	}
	if !some {
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "reports of\trecipients\treported\ttwice\treports/recip\treport reqs/recip\treports/s\tlast result→last report\tCPU µs/recip\tallocs/recip\tJS writes/recip\tpeak RSS MB\t")
	for _, r := range rows {
		rep := r.Reports
		if rep == nil {
			continue
		}
		per := func(n float64) float64 { return n / float64(max(rep.Want, 1)) }
		allocs := "-"
		if rep.Allocs > 0 {
			allocs = fmt.Sprintf("%.0f", per(float64(rep.Allocs)))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%.4f\t%.0f\t%s\t%.0f\t%s\t%.3f\t%.0f\t\n", r.Name, rep.Want, rep.Reported, rep.Twice,
			per(float64(rep.Stored)), per(float64(rep.Queries)), rep.PerSec(), dur(rep.Tail), per(float64(rep.CPU.Microseconds())), allocs,
			per(float64(rep.Writes)), float64(rep.PeakRSS)/(1<<20))
	}
	tw.Flush()
	fmt.Fprintln(out, "(CPU, allocs, writes and peak RSS from the first publish to the last report: sends, results and reports)")
	for _, r := range rows {
		if r.Reports != nil && r.Reports.Stalled != "" {
			fmt.Fprintf(out, "%s: reports stalled: %s\n", r.Name, r.Reports.Stalled)
		}
	}
}
