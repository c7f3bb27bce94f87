package worker_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Account names in jobs come from producers: a job for an account this
// worker does not serve must not create a metric series of its own.
func TestMetricsNeverLabelProducerAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg := e.config(sandboxAccount("acct", nil))
	cfg.HTTP.Addr = addr
	e.start(cfg)
	e.publishJob(testJob("served", "acct", 1))
	e.publishJob(testJob("stranger", "no-such-account", 1))
	e.results(2, 30*time.Second)

	var body string
	waitFor(t, 10*time.Second, "both results counted", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, `account="acct"`) && strings.Contains(body, `account="_other"`)
	})
	if strings.Contains(body, "no-such-account") {
		t.Errorf("a producer's account name became a label:\n%s", grepLines(body, "no-such-account"))
	}
	for _, family := range []string{"talkrelay_results_total", "talkrelay_jobs_held", "talkrelay_jobs_in_flight", "talkrelay_build_info{"} {
		if !strings.Contains(body, family) {
			t.Errorf("metric family %s missing", family)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
