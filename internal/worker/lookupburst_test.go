package worker_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// perSecond counts the requests a front server let through, per
// wall-clock second.
type perSecond struct {
	mu     sync.Mutex
	counts map[int64]int
	total  int
}

func (c *perSecond) add(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[int64]int{}
	}
	c.counts[at.Unix()]++
	c.total++
}

// stats returns the total and the busiest second.
func (c *perSecond) stats() (total, busiest int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.counts {
		busiest = max(busiest, n)
	}
	return c.total, busiest
}

// TestLookupBurstDoesNotDelayAnotherAccount: account A (NHN) sends
// LOOKUP_BURST_RECIPIENTS recipients (default 10,000) whose every send
// times out after NHN took it, so every one is looked up, and NHN answers
// every list request slowly. While A's lookups run, 100 probe jobs go to
// account B, one every 100 ms. Every probe is answered while A still has
// lookups to make (before, lookups ran on the goroutines that decode jobs,
// outside the concurrency slots and the rate limit); A's requests reach
// NHN at most at A's limit in every wall-clock second.
func TestLookupBurstDoesNotDelayAnotherAccount(t *testing.T) {
	t.Parallel()
	recipients := 10_000
	if s := os.Getenv("LOOKUP_BURST_RECIPIENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			t.Fatalf("LOOKUP_BURST_RECIPIENTS=%q: want a number of at least 1000", s)
		}
		recipients = n
	}
	const (
		limitA      = 20 // A's requests_per_second
		probes      = 100
		probeEvery  = 100 * time.Millisecond
		lookupDelay = 300 * time.Millisecond
	)
	e := newEnv(t)
	apiA, apiB := nhnfake.New(t), nhnfake.New(t)
	for range recipients / 1000 * 3 {
		apiA.Next(providertest.Answer{Hang: true}) // taken, answer lost: unknown
	}
	upstream, err := url.Parse(apiA.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var requestsA, lookupsA perSecond
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/senders") {
			// The worker's preflight and sender guard: administration
			// calls, not the sends and lookups measured here.
			proxy.ServeHTTP(w, r)
			return
		}
		now := time.Now()
		requestsA.add(now)
		if r.Method == http.MethodGet {
			lookupsA.add(now)
			time.Sleep(lookupDelay) // NHN lists slowly
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	const sender = "0123456789abcdef0123456789abcdef01234567"
	for _, api := range []*nhnfake.Fake{apiA, apiB} { // the worker's preflight and guard find it
		api.AddSender(nhnfake.Sender{PlusFriendID: "@burst", SenderKey: sender})
	}
	a := providerAccount(t, "nhn-a", "nhn", front.URL, sender, map[string]string{"secret_key": nhnfake.SecretKey},
		map[string]any{"app_key": nhnfake.AppKey})
	a.RequestTimeout, a.MaxConcurrency = time.Second, 4
	// Headroom 15%: admitted at 17/s, so that requests a busy machine
	// delays between admission and arrival do not push a second at the
	// fake over the limit.
	headroom := 0.15
	a.RateLimit = ratelimit.Config{RequestsPerSecond: limitA, Headroom: &headroom}
	a.Retry = retry.Policy{MaxAttempts: 3, InitialInterval: time.Second, MaxInterval: time.Second, Jitter: 0.01,
		LookupAfter: time.Second, MaxLookups: 5}
	b := providerAccount(t, "nhn-b", "nhn", apiB.URL(), sender, map[string]string{"secret_key": nhnfake.SecretKey},
		map[string]any{"app_key": nhnfake.AppKey})

	for n := range recipients / 1000 {
		j := &job.Job{Version: 1, ID: fmt.Sprintf("burst-%d", n), Account: "nhn-a", Kind: job.AlimTalk, Template: "ORDER_RECEIVED"}
		for i := range 1000 {
			j.Recipients = append(j.Recipients, job.Recipient{Phone: fmt.Sprintf("010-5%03d-%04d", n, i), Content: "주문이 접수되었습니다."})
		}
		e.publishJob(j)
	}
	answered := make(chan string, probes)
	sub, err := e.nc.Subscribe("talkrelay.results.nhn-b.>", func(m *nats.Msg) {
		answered <- m.Subject[strings.LastIndexByte(m.Subject, '.')+1:] // the job id: probes have no dots
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	e.startWith(e.config(a, b), worker.Options{Providers: worker.Providers})

	for { // A's lookups have begun
		if total, _ := lookupsA.stats(); total > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	published := map[string]time.Time{}
	var latencies []time.Duration
	receive := func(id string) {
		latencies = append(latencies, time.Since(published[id]))
	}
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for n := range probes {
		id := fmt.Sprintf("probe-%d", n)
		published[id] = time.Now()
		e.publishJob(&job.Job{Version: 1, ID: id, Account: "nhn-b", Kind: job.AlimTalk, Template: "ORDER_RECEIVED",
			Recipients: []job.Recipient{{Phone: fmt.Sprintf("010-7777-%04d", n), Content: "주문이 접수되었습니다."}}})
	wait:
		for {
			select {
			case id := <-answered:
				receive(id)
			case <-tick.C:
				break wait
			}
		}
	}
	for len(latencies) < probes {
		select {
		case id := <-answered:
			receive(id)
		case <-time.After(time.Minute):
			t.Fatalf("%d of %d probes answered within a minute of the last", len(latencies), probes)
		}
	}
	lookups, busiestLookups := lookupsA.stats()
	requests, busiest := requestsA.stats()
	resultsA, err := streams.SubjectCount(t.Context(), e.js, streams.ResultsStream, "talkrelay.results.nhn-a.>")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(latencies)
	t.Logf("probes on B: p50 %s, p99 %s, max %s; meanwhile A made %d lookup requests (busiest second %d) and %d requests in all (busiest second %d, limit %d); A has %d of %d results",
		latencies[probes/2].Round(time.Millisecond), latencies[probes*99/100].Round(time.Millisecond), latencies[probes-1].Round(time.Millisecond),
		lookups, busiestLookups, requests, busiest, limitA, resultsA, recipients)
	if resultsA >= uint64(recipients) || lookups >= recipients {
		t.Errorf("A's lookups were over before the last probe was answered (%d results, %d lookup requests): the case was not reached", resultsA, lookups)
	}
	if busiest > limitA {
		t.Errorf("A's busiest second at NHN had %d requests, over its limit of %d", busiest, limitA)
	}
}
