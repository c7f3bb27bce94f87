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
		"nats":   map[string]any{"url": ns.ClientURL()},
		"worker": map[string]any{"ack_wait": ackWait.String(), "shutdown_grace": shutdownGrace.String()},
		"http":   map[string]any{"addr": ""},
		"log":    map[string]any{"level": "info", "format": "json"},
		"accounts": []any{map[string]any{"name": "sbx", "provider": "sandbox",
			"reports": map[string]any{"interval": "50ms", "page_size": 50, "lease": "2s"},
			"options": map[string]any{"report_delay": "300ms", "fallback_rate": 0.2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "worker.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	var jobs []*job.Job
	for total := 0; total < p.recipients; {
		j := &job.Job{Version: 1, ID: fmt.Sprintf("rep-%05d", len(jobs)), Account: "sbx", Kind: job.FriendTalk,
			Metadata: []byte(`{"suite":"reports"}`)}
		for i := range min(20, p.recipients-total) {
			j.Recipients = append(j.Recipients, job.Recipient{Ref: strconv.Itoa(total + i), Phone: fmt.Sprintf("010%08d", total+i), Content: "hello"})
		}
		total += len(j.Recipients)
		jobs = append(jobs, j)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	pub := trickle(ctx, js, jobs, 5*time.Second)

	workers := map[int]*workerProc{}
	for n := range 2 {
		workers[n] = startWorker(t, bin, cfgPath, dir, n)
	}
	kv, err := js.KeyValue(ctx, streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	next := 2
	for kills := 0; kills < p.kills; {
		// Kill the holder of the lease once it has stored reports since
		// the last kill (a killed holder's lease runs out first).
		holder := waitHolder(ctx, t, kv, js, kills)
		killed := false
		for n, w := range workers {
			if strings.Contains(holder, "/"+strconv.Itoa(w.cmd.Process.Pid)+"/") {
				w.kill()
				delete(workers, n)
				workers[next] = startWorker(t, bin, cfgPath, dir, next)
				next++
				kills++
				killed = true
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
	results, reports := countUntil(ctx, t, js, streams.ResultsStream, p.recipients), countUntil(ctx, t, js, streams.ReportsStream, p.recipients)
	accepted, err := streams.SubjectCount(ctx, js, streams.ResultsStream, "talkrelay.results.sbx.accepted.>")
	if err != nil {
		t.Fatal(err)
	}
	if results != p.recipients || int(accepted) != p.recipients {
		t.Fatalf("%d results, %d accepted, want %d", results, accepted, p.recipients)
	}
	seen := map[string]bool{}
	cons, err := js.OrderedConsumer(ctx, streams.ReportsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for len(seen) < reports {
		m, err := cons.Next()
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			JobID string `json:"job_id"`
			Index int    `json:"recipient_index"`
			Ref   string `json:"ref"`
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		key := resultKey(ev.JobID, ev.Index)
		if seen[key] {
			t.Errorf("second report of %s", key)
		}
		seen[key] = true
	}
	if reports != p.recipients {
		t.Errorf("%d reports for %d accepted recipients", reports, p.recipients)
	}
	t.Logf("%d recipients, %d reports, %d kills of the lease holder", p.recipients, reports, p.kills)
}

// waitHolder waits until the report lease is held and the reports stream
// has grown since the last call, and returns the holder.
func waitHolder(ctx context.Context, t *testing.T, kv jetstream.KeyValue, js jetstream.JetStream, kill int) string {
	t.Helper()
	min := uint64(kill*50 + 1)
	for {
		e, err := kv.Get(ctx, "lease.sbx")
		if err == nil {
			var l struct {
				Holder string `json:"holder"`
			}
			n, cerr := streams.SubjectCount(ctx, js, streams.ReportsStream, streams.ReportsPrefix+".>")
			if json.Unmarshal(e.Value(), &l) == nil && l.Holder != "" && cerr == nil && n >= min {
				return l.Holder
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no live lease holder with %d reports stored: %v", min, ctx.Err())
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
