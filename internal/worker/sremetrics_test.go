package worker_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// freeAddr returns a local address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sample is one line of a /metrics page.
type sample struct {
	name   string
	labels string // as written, without the braces
	value  float64
}

// scrape reads the worker's /metrics at addr.
func scrape(t *testing.T, addr string) []sample {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var s sample
		head, value, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			s.name, s.labels, value = line[:i], line[i+1:j], strings.TrimSpace(line[j+1:])
		} else {
			s.name = head
		}
		s.value, _ = strconv.ParseFloat(strings.Fields(value)[0], 64)
		out = append(out, s)
	}
	return out
}

// find returns the value of the sample named name whose labels contain
// every one of labels, and whether there is one.
func find(samples []sample, name string, labels ...string) (float64, bool) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(s.labels, l)
		}
		if all {
			return s.value, true
		}
	}
	return 0, false
}

// The metrics an operator needs are on /metrics of a worker that sent a
// job whose recipients were accepted, retried and looked up, and rejected
// another for an account it does not serve.
func TestMetricsExposeWhatAnOperatorNeeds(t *testing.T) {
	t.Parallel()
	for _, s := range operatorMetrics(t) {
		if strings.Contains(s.labels, "no-such-account") {
			t.Errorf("a producer's account name became a label: %s{%s}", s.name, s.labels)
		}
	}
}

// operatorMetrics runs the scenario of TestMetricsExposeWhatAnOperatorNeeds
// and returns the worker's /metrics once every family an operator needs is
// on it; it fails the test if one never comes.
func operatorMetrics(t *testing.T) []sample {
	t.Helper()
	e := newEnv(t)
	j := testJob("mixed", "acct", 3)
	retried, unknown := j.Recipients[1].Phone, j.Recipients[2].Phone
	s := &scripted{limit: 100,
		answer: func(phone string, attempt int) providers.Outcome {
			switch {
			case attempt > 1:
				return accepted
			case phone == retried:
				return transient
			case phone == unknown:
				return providers.Outcome{Class: providers.Unknown, Message: "timeout after the request was written"}
			}
			return accepted
		},
		resolve: func(providers.Query) providers.Outcome {
			return providers.Outcome{Class: providers.Accepted, Code: "OK"}
		}}
	addr := freeAddr(t)
	e.startScripted(s, 3, func(c *config.Config) { c.HTTP.Addr = addr })
	e.publishJob(j)
	e.publishJob(testJob("stranger", "no-such-account", 1))
	e.results(4, 30*time.Second)

	want := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"talkrelay_consumer_pending", []string{`account="acct"`, `lane="normal"`}, 0},
		{"talkrelay_consumer_pending", []string{`account="_other"`, `lane="urgent"`}, 0},
		{"talkrelay_consumer_ack_pending", []string{`account="acct"`, `lane="urgent"`}, 0},
		{"talkrelay_jobs_redelivered_total", []string{`account="acct"`}, 0},
		{"talkrelay_jobs_duplicate_total", []string{`account="acct"`}, 0},
		{"talkrelay_jobs_lost_total", nil, 0},
		{"talkrelay_dead_letters_total", []string{`reason="unknown_account"`}, 1},
		{"talkrelay_dead_letters_total", []string{`reason="poison"`}, 0},
		{"talkrelay_retries_scheduled_total", []string{`account="acct"`}, 1},
		{"talkrelay_lookups_scheduled_total", []string{`account="acct"`}, 1},
		{"talkrelay_retries_due_total", []string{`account="acct"`}, 1},
		{"talkrelay_lookups_due_total", []string{`account="acct"`}, 1},
		{"talkrelay_unknown_outcomes_total", []string{`account="acct"`, `provider="scripted"`}, 1},
		{"talkrelay_ratelimit_wait_seconds_count", []string{`account="acct"`}, 1},
		{"talkrelay_provider_request_duration_seconds_count", []string{`account="acct"`, `outcome="ok"`}, 1},
		{"talkrelay_provider_requests_total", []string{`outcome="ok"`}, 1},
		{"talkrelay_results_total", []string{`status="accepted"`}, 3},
		{"talkrelay_ready", nil, 1},
		{"talkrelay_nats_connected", nil, 1},
		{"talkrelay_nats_reconnects_total", nil, 0},
		{"talkrelay_build_info", []string{`version=`}, 1},
		{"go_goroutines", nil, 1},
		{"go_memstats_heap_alloc_bytes", nil, 1},
		{"process_cpu_seconds_total", nil, 0},
		{"process_resident_memory_bytes", nil, 1},
	}
	var samples []sample
	missing := func() string {
		samples = scrape(t, addr)
		for _, w := range want {
			if v, ok := find(samples, w.name, w.labels...); !ok || v < w.min {
				return w.name + "{" + strings.Join(w.labels, ",") + "}"
			}
		}
		return ""
	}
	deadline := time.Now().Add(30 * time.Second)
	for m := missing(); m != ""; m = missing() {
		if time.Now().After(deadline) {
			t.Fatalf("/metrics has no %s", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return samples
}

// talkrelay_consumer_pending and _ack_pending are a lane's backlog: with
// one job in flight at most (max_ack_pending 1) and the provider holding
// the first, the other two wait in the stream.
func TestLagIsTheLanesBacklog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { <-release; return accepted }}
	addr := freeAddr(t)
	e.startScripted(s, 3, func(c *config.Config) { c.HTTP.Addr = addr; c.Worker.MaxAckPending, c.Worker.PullBatch = 1, 1 })
	t.Cleanup(func() { close(release) }) // before the worker stops
	for _, id := range []string{"first", "second", "third"} {
		e.publishJob(testJob(id, "acct", 1))
	}
	waitFor(t, 30*time.Second, "pending 2 and ack pending 1 on acct's normal lane", func() bool {
		samples := scrape(t, addr)
		pending, _ := find(samples, "talkrelay_consumer_pending", `account="acct"`, `lane="normal"`)
		ackPending, _ := find(samples, "talkrelay_consumer_ack_pending", `account="acct"`, `lane="normal"`)
		return pending == 2 && ackPending == 1
	})
}
