package faultsuite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
)

// TestPausedWorker pauses (SIGSTOP) one of two worker processes while it
// holds a backlog of batches in memory, for longer than the ack wait, so
// that NATS hands its jobs to the other worker, which sends them. Then it
// resumes the paused one (SIGCONT). The resumed worker must not send what
// it held: no provider takes a message twice, and no recipient gets two
// different final results.
//
// The bounded run (400 recipients, ack_wait 3s) is part of make test;
// FAULT_PAUSE_RECIPIENTS and FAULT_PAUSE_ACK_WAIT make it larger.
func TestPausedWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two worker processes through a pause longer than the ack wait")
	}
	recipients, ackWait := 400, 3*time.Second
	if v := os.Getenv("FAULT_PAUSE_RECIPIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("FAULT_PAUSE_RECIPIENTS: %v", err)
		}
		recipients = n
	}
	if v := os.Getenv("FAULT_PAUSE_ACK_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("FAULT_PAUSE_ACK_WAIT: %v", err)
		}
		ackWait = d
	}
	ctx := t.Context()
	dir := t.TempDir()
	bin := buildWorker(t, dir)

	ns, js := startNATS(t, dir)

	naverAPI, nhnAPI, kakaoAPI := naverfake.New(t), nhnfake.New(t), kakaofake.New(t)
	seedFakes(naverAPI, nhnAPI)
	acceptedTo := map[string]func(phone string) int{
		naverAccount: naverAPI.AcceptedTo, nhnAccount: nhnAPI.AcceptedTo, kakaoAccount: kakaoAPI.AcceptedTo}
	proxies := map[string]*Proxy{}
	for i, name := range accountNames {
		target := map[string]string{naverAccount: naverAPI.URL(), nhnAccount: nhnAPI.URL(), kakaoAccount: kakaoAPI.URL()}[name]
		proxies[name] = NewProxy(t, name, target, isSend[name], Rates{}, uint64(i)+1) // no chaos
	}

	// The workers send slowly (Kakao takes one recipient a request), so
	// that the first one holds a backlog of batches when it is paused.
	rps := map[string]int{naverAccount: 1, nhnAccount: 1, kakaoAccount: 10}
	config := func(n int) (path, metrics string) {
		data, err := workerConfig(ns.ClientURL(), proxies)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg["worker"].(map[string]any)["ack_wait"] = ackWait.String()
		addr := freeAddr(t)
		cfg["http"] = map[string]any{"addr": addr}
		for _, a := range cfg["accounts"].([]any) {
			a := a.(map[string]any)
			a["rate_limit"] = map[string]any{"requests_per_second": rps[a["name"].(string)], "burst": 1}
		}
		if data, err = yaml.Marshal(cfg); err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(dir, fmt.Sprintf("worker-%d.yaml", n))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path, "http://" + addr + "/metrics"
	}

	jobs, refs := makeJobs(rand.New(rand.NewPCG(1, 2)), recipients, 4)
	cfgA, metricsA := config(1)
	a := startWorker(t, bin, cfgA, dir, 1)
	t.Cleanup(func() { _ = a.cmd.Process.Signal(syscall.SIGCONT) }) // so that the cleanup's SIGKILL ends it
	waitMetric(t, a, metricsA, "talkrelay_jobs_held", func(float64) bool { return true }, time.Minute, "worker 1 serving")
	if err := publishJobs(ctx, js, jobs); err != nil {
		t.Fatal(err)
	}

	// Worker 1 takes every job (its lanes hold up to pull_batch); pause it
	// once it has sent some, with most of them still in its memory.
	rs := newResults()
	waitFor(t, time.Minute, "worker 1 storing its first results", func() bool {
		return rs.read(ctx, js) == nil && rs.events > 0
	})
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	left := len(rs.missing(refs))
	t.Logf("worker 1 paused with %d of %d recipients without a result", left, len(refs))
	if left < len(refs)/4 {
		t.Fatalf("worker 1 had sent %d of %d recipients before its pause: no backlog to test with", len(refs)-left, len(refs))
	}

	// Worker 2 gets worker 1's jobs once their ack wait is over, and
	// sends them all.
	cfgB, _ := config(2)
	b := startWorker(t, bin, cfgB, dir, 2)
	waitFor(t, max(2*time.Minute, time.Duration(recipients)*100*time.Millisecond), "worker 2 giving every recipient a result", func() bool {
		return rs.read(ctx, js) == nil && len(rs.missing(refs)) == 0
	})
	// Worker 2 logs each redelivered job it reconciles.
	redelivered := countLines(t, b.log, "redelivered: reconciling")
	pause := time.Since(paused)
	t.Logf("worker 2 finished the work %.1fs into the pause, %d jobs of it redelivered", pause.Seconds(), redelivered)
	if pause <= ackWait || redelivered == 0 {
		t.Fatalf("the pause (%s) did not hand worker 1's jobs to worker 2 (ack wait %s, %d redelivered)", pause, ackWait, redelivered)
	}

	// Resume worker 1 and let it work off what it held.
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, a, metricsA, "talkrelay_jobs_held", func(v float64) bool { return v == 0 }, time.Minute, "worker 1 holding nothing")
	lost := metric(metricsA, "talkrelay_jobs_lost_total")
	a.stop(shutdownGrace + 5*time.Second)
	b.stop(shutdownGrace + 5*time.Second)

	final := newResults()
	if err := final.read(ctx, js); err != nil {
		t.Fatal(err)
	}
	twice, conflicting, results2 := 0, 0, 0
	for _, r := range refs {
		if n := acceptedTo[r.account](r.phone); n > 1 {
			twice++
		}
		rr := final.byKey[r.key()]
		if rr == nil {
			t.Errorf("%s: no result", r.key())
			continue
		}
		if len(rr.statuses) > 1 {
			results2++
		}
		if len(rr.distinct()) > 1 {
			conflicting++
			t.Errorf("%s: conflicting final results %v", r.key(), rr.statuses)
		}
	}
	t.Logf("after the pause: %d recipients a provider took twice, %d with two result events, %d with conflicting finals; worker 1 gave up %v jobs",
		twice, results2, conflicting, lost)
	if twice > 0 {
		t.Errorf("%d recipients were taken twice by a provider: the resumed worker sent what it no longer held", twice)
	}
	if lost <= 0 {
		t.Errorf("worker 1 gave up no job after its pause (talkrelay_jobs_lost_total %v)", lost)
	}
}

// countLines counts the lines of a log that contain s.
func countLines(t *testing.T, path, s string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), s)
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// metric reads a gauge or counter without labels from a worker's
// /metrics; -1 if it cannot be read.
func metric(url, name string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// waitMetric waits until the worker's metric is readable and ok says so.
func waitMetric(t *testing.T, w *workerProc, url, name string, ok func(float64) bool, limit time.Duration, what string) {
	t.Helper()
	waitFor(t, limit, what, func() bool {
		if err := w.running(); err != nil {
			t.Fatal(err)
		}
		v := metric(url, name)
		return v >= 0 && ok(v)
	})
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("waited %s for %s", limit, what)
		}
	}
}
