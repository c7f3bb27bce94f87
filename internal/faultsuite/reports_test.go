package faultsuite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// TestReportsThroughKills runs two worker processes on one sandbox
// account (reports on, by default) and SIGKILLs the one holding the
// account's report lease, again and again, while jobs are sent and
// reported; the other takes the lease over from the saved cursor. Then
// every accepted recipient has exactly one report. FAULT_RECIPIENTS and
// FAULT_KILLS size it (`make fault`: 10,000 and 6).
func TestReportsThroughKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs worker binaries through SIGKILLs")
	}
	p := loadProfile(t)
	account := map[string]any{"name": "sbx", "provider": "sandbox",
		"reports": map[string]any{"interval": "50ms", "page_size": 50, "lease": "2s"},
		"options": map[string]any{"report_delay": "300ms", "fallback_rate": 0.2}}
	reportsThroughKills(t, p, []any{account}, reportJobs("rep", "sbx", job.FriendTalk, "", "", p.recipients), []string{"sbx"}, nil)
}

// reportJobs are jobs of account of n recipients in all, 20 a job.
func reportJobs(prefix, account string, kind job.Kind, sender, template string, n int) []*job.Job {
	var jobs []*job.Job
	for total := 0; total < n; {
		j := &job.Job{Version: 1, ID: fmt.Sprintf("%s-%05d", prefix, len(jobs)), Account: account, Kind: kind,
			Sender: sender, Template: template, Metadata: []byte(`{"suite":"reports"}`)}
		for i := range min(20, n-total) {
			j.Recipients = append(j.Recipients, job.Recipient{Ref: strconv.Itoa(total + i), Phone: fmt.Sprintf("010%08d", total+i), Content: "hello"})
		}
		total += len(j.Recipients)
		jobs = append(jobs, j)
	}
	return jobs
}

// reportsThroughKills sends jobs to two worker processes configured with
// accounts, SIGKILLs the holder of the report lease of each of polled
// (poller names: the account, or the account, a dot and more) in turn
// (p.kills in all) while they are sent and reported, and checks that
// every recipient is accepted and has exactly one report. The jobs are
// published once the pollers named in fromEnd, whose cursor starts where
// the poller first runs (the end of the results stream, the current
// time), have saved it. It returns each recipient's report state, by
// resultKey.
func reportsThroughKills(t *testing.T, p profile, accounts []any, jobs []*job.Job, polled, fromEnd []string) map[string]string {
	t.Helper()
	began := time.Now()
	dir := t.TempDir()
	bin := buildWorker(t, dir)
	ns := natstest.RunWith(t, server.Options{StoreDir: filepath.Join(dir, "nats")})
	nc := ns.Connect(t, nats.MaxReconnects(-1))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.EnsureStreams(t, js)
	cfg, err := yaml.Marshal(map[string]any{
		"nats":     map[string]any{"url": ns.ClientURL()},
		"worker":   map[string]any{"ack_wait": ackWait.String(), "shutdown_grace": shutdownGrace.String()},
		"http":     map[string]any{"addr": ""},
		"log":      map[string]any{"level": "info", "format": "json"},
		"accounts": accounts,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "worker.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	recipients, of := 0, map[string]int{}
	for _, j := range jobs {
		recipients += len(j.Recipients)
		of[j.Account] += len(j.Recipients)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	workers := map[int]*workerProc{}
	for n := range 2 {
		workers[n] = startWorker(t, bin, cfgPath, dir, n)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, w := range workers {
				t.Logf("tail of worker %d's log:\n%s", w.n, tail(w.log, 40))
			}
		}
	})
	kv, err := js.KeyValue(ctx, streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range fromEnd {
		for {
			if _, err := kv.Get(ctx, "cursor."+name); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("no report cursor of %s: %v", name, ctx.Err())
			case <-workers[0].exited:
				log, _ := os.ReadFile(workers[0].log)
				t.Fatalf("worker 0 exited before the report cursor of %s was saved: %v\n%s", name, workers[0].err, log)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	pub := trickle(ctx, js, jobs, 5*time.Second)
	next := 2
	for kills := 0; kills < p.kills; {
		// Kill the holder of a lease once reports were stored since the
		// last kill (a killed holder's lease runs out first).
		poller := polled[kills%len(polled)]
		account, _, _ := strings.Cut(poller, ".")
		holder, reported := waitHolder(ctx, t, kv, js, poller, account, kills)
		killed := false
		for n, w := range workers {
			if strings.Contains(holder, "/"+strconv.Itoa(w.cmd.Process.Pid)+"/") {
				w.kill()
				delete(workers, n)
				workers[next] = startWorker(t, bin, cfgPath, dir, next)
				next++
				kills++
				killed = true
				t.Logf("killed the holder of %s with %d of its account's %d recipients reported, %s in", poller, reported, of[account], time.Since(began).Round(time.Second))
				break
			}
		}
		if !killed {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := pub.wait(); err != nil {
		t.Fatal(err)
	}
	// Every recipient is accepted; each gets one report.
	results, reports := countUntil(ctx, t, js, streams.ResultsStream, recipients), countUntil(ctx, t, js, streams.ReportsStream, recipients)
	accepted, err := streams.SubjectCount(ctx, js, streams.ResultsStream, "talkrelay.results.*.accepted.>")
	if err != nil {
		t.Fatal(err)
	}
	if results != recipients || int(accepted) != recipients {
		t.Fatalf("%d results, %d accepted, want %d", results, accepted, recipients)
	}
	states := map[string]string{}
	cons, err := js.OrderedConsumer(ctx, streams.ReportsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for read := 0; read < reports; {
		batch, err := cons.Fetch(min(reports-read, 500))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			read++
			var ev struct {
				JobID string `json:"job_id"`
				Index int    `json:"recipient_index"`
				State string `json:"state"`
			}
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatal(err)
			}
			key := resultKey(ev.JobID, ev.Index)
			if states[key] != "" {
				t.Errorf("second report of %s", key)
			}
			states[key] = ev.State
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
	if reports != recipients {
		t.Errorf("%d reports for %d accepted recipients", reports, recipients)
	}
	t.Logf("%d recipients, %d reports, %d kills of a lease holder, %s", recipients, reports, p.kills, time.Since(began).Round(time.Second))
	return states
}

// waitHolder waits until the lease of poller is held and the reports
// stream has grown since the last kill, and returns the holder and how
// many of account's recipients are reported.
func waitHolder(ctx context.Context, t *testing.T, kv jetstream.KeyValue, js jetstream.JetStream, poller, account string, kill int) (string, int) {
	t.Helper()
	min := uint64(kill*50 + 1)
	for {
		e, err := kv.Get(ctx, "lease."+poller)
		if err == nil {
			var l struct {
				Holder string `json:"holder"`
			}
			all, err1 := streams.SubjectCount(ctx, js, streams.ReportsStream, streams.ReportsPrefix+".>")
			mine, err2 := streams.SubjectCount(ctx, js, streams.ReportsStream, streams.ReportsPrefix+"."+streams.Token(account)+".>")
			if json.Unmarshal(e.Value(), &l) == nil && l.Holder != "" && err1 == nil && err2 == nil && all >= min {
				return l.Holder, int(mine)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no live holder of %s with %d reports stored: %v", poller, min, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// countUntil waits until stream holds at least want messages (or ctx
// ends) and returns how many it holds.
func countUntil(ctx context.Context, t *testing.T, js jetstream.JetStream, stream string, want int) int {
	t.Helper()
	for {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int(info.State.Msgs) >= want || ctx.Err() != nil {
			return int(info.State.Msgs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
