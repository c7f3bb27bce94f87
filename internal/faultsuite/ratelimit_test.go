package faultsuite

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/result"
)

// arrival is one send request as a provider saw it.
type arrival struct {
	at         time.Time
	recipients int
	throttled  bool // answered 429 without forwarding
}

// meter sits in front of a provider fake and records every send request's
// arrival; while throttle is on it answers 429 with Retry-After: 1 to a
// fifth of them instead of forwarding them.
type meter struct {
	srv      *httptest.Server
	isSend   func(*http.Request) bool
	forward  *httputil.ReverseProxy
	throttle atomic.Bool

	mu       sync.Mutex
	rng      *rand.Rand
	arrivals []arrival
}

func newMeter(t *testing.T, target string, isSend func(*http.Request) bool) *meter {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	m := &meter{isSend: isSend, forward: httputil.NewSingleHostReverseProxy(u), rng: rand.New(rand.NewPCG(7, 7))}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *meter) serve(w http.ResponseWriter, r *http.Request) {
	if !m.isSend(r) {
		m.forward.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	a := arrival{at: time.Now(), recipients: len(phonesIn(body))}
	m.mu.Lock()
	a.throttled = m.throttle.Load() && m.rng.Float64() < 0.2
	m.arrivals = append(m.arrivals, a)
	m.mu.Unlock()
	if a.throttled {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "429 Too Many Requests (meter)", http.StatusTooManyRequests)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	m.forward.ServeHTTP(w, r)
}

func (m *meter) list() []arrival {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]arrival(nil), m.arrivals...)
}

// weight is what an account's limit counts of an arrival.
type weight func(arrival) int

func requests(arrival) int     { return 1 }
func recipients(a arrival) int { return a.recipients }

// tolerance is how far the rates measured per wall-clock second may stray
// from the limit. The strict form (FAULT_RATELIMIT_STRICT=1, make fault)
// is the specification: never above the limit, at least 90% of it. Within
// make test, on a CI machine whose two cores run four worker processes
// under the race detector, a worker starved for a few hundred ms sends the
// requests admitted meanwhile at once, and the rates are timing: there the
// test allows 10% over and wants 80%, which still fails a limit held per
// replica (three times over) or a replica's share not given back.
type tolerance struct {
	over, least float64
	strict      bool
}

func rateTolerance() tolerance {
	if os.Getenv("FAULT_RATELIMIT_STRICT") == "1" {
		return tolerance{over: 1, least: 0.9, strict: true}
	}
	return tolerance{over: 1.1, least: 0.8}
}

func (tol tolerance) String() string {
	if tol.strict {
		return ""
	}
	return " (make test's tolerance; FAULT_RATELIMIT_STRICT=1 for the specification)"
}

// maxPerSecond is the most weight that arrived within one wall-clock
// second the meters could measure (see stalls), and that second.
func maxPerSecond(as []arrival, w weight, st *stalls) (int, time.Time) {
	per := map[int64]int{}
	most, at := 0, int64(0)
	for _, a := range as {
		s := a.at.Unix()
		if st.stalled(s) {
			continue
		}
		if per[s] += w(a); per[s] > most {
			most, at = per[s], s
		}
	}
	return most, time.Unix(at, 0)
}

// stalls records the wall-clock seconds in which this process (the meters,
// NATS and the fakes) stopped running for longer than a headroom's worth
// of a second: the meters stamp arrivals late then, and requests the
// workers spread over two seconds land in one. Such a second says nothing
// about the limiter and is left out of maxPerSecond; a run with too many
// of them fails as unmeasured instead of passing.
type stalls struct {
	mu   sync.Mutex
	late map[int64]bool
}

// watchStalls ticks every 5 ms until the test ends and marks a second
// (and the one before it, which the stall may have begun in) when a tick
// comes more than limit late.
func watchStalls(t *testing.T, limit time.Duration) *stalls {
	st := &stalls{late: map[int64]bool{}}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		const every = 5 * time.Millisecond
		tick := time.NewTicker(every)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				now := time.Now()
				if now.Sub(last) > every+limit {
					st.mu.Lock()
					st.late[now.Unix()], st.late[now.Unix()-1] = true, true
					st.mu.Unlock()
				}
				last = now
			}
		}
	}()
	return st
}

func (st *stalls) stalled(s int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.late[s]
}

// count is how many of the seconds from from to to were stalled.
func (st *stalls) count(from, to time.Time) int {
	n := 0
	for s := from.Unix(); s <= to.Unix(); s++ {
		if st.stalled(s) {
			n++
		}
	}
	return n
}

// perSecond lists the weight that arrived in each wall-clock second from
// from to to.
func perSecond(as []arrival, w weight, from, to time.Time) []int {
	out := make([]int, to.Unix()-from.Unix()+1)
	for _, a := range as {
		if s := a.at.Unix() - from.Unix(); s >= 0 && s < int64(len(out)) {
			out[s] += w(a)
		}
	}
	return out
}

// rateIn is the weight per second that arrived in [from, to), measured
// from the first arrival in it to the last (whose weight counts, the
// first's not): the rate the requests were paced at.
func rateIn(as []arrival, w weight, from, to time.Time) float64 {
	var first, last time.Time
	sum := 0
	for _, a := range as {
		if a.at.Before(from) || !a.at.Before(to) {
			continue
		}
		if first.IsZero() {
			first = a.at
		} else {
			sum += w(a)
		}
		last = a.at
	}
	if !last.After(first) {
		return 0
	}
	return float64(sum) / last.Sub(first).Seconds()
}

// countIn is the weight per second of wall-clock time that arrived in
// [from, to).
func countIn(as []arrival, w weight, from, to time.Time) float64 {
	sum := 0
	for _, a := range as {
		if !a.at.Before(from) && a.at.Before(to) {
			sum += w(a)
		}
	}
	return float64(sum) / to.Sub(from).Seconds()
}

// TestRateLimitSharedAcrossReplicas runs worker processes against three
// rate-limited accounts: Kakao at 50 requests/s, NHN at 1,000 recipients/s
// (1,000 a request) and a second Kakao account at 50 requests/s whose
// provider answers 429 with Retry-After to a fifth of its requests during
// the first phase. Phases of FAULT_RATELIMIT_PHASE each (default 10s; 20s
// is the 60-second form): 3 replicas; one SIGKILLed, 2 left; a fourth
// started. The providers never see more than the limit in a wall-clock
// second, see at least 90% of it on average and within 10 s of the kill,
// and from 3 s after the fourth started (its start-up takes the CPU the
// others run on);
// the throttled account slows down during the 429s, is back at 90% after
// them, and each of its recipients is taken exactly once.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	tol := rateTolerance()
	if testing.Short() {
		t.Skip("runs four worker processes for half a minute")
	}
	phase := 10 * time.Second
	if v := os.Getenv("FAULT_RATELIMIT_PHASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 6*time.Second {
			t.Fatalf("FAULT_RATELIMIT_PHASE: %q is not a duration of 6s or more", v)
		}
		phase = d
	}
	const (
		kakaoRPS      = 50
		nhnRPS        = 1000 // recipients
		throttledAcct = "kakao-throttled"
	)
	ctx := t.Context()
	dir := t.TempDir()
	bin := buildWorker(t, dir)
	ns, js := startNATS(t, dir)

	kakaoAPI, nhnAPI := kakaofake.New(t), nhnfake.New(t)
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: plusFriendID, SenderKey: senderKey}) // the worker's guard finds it
	meters := map[string]*meter{
		kakaoAccount:  newMeter(t, kakaoAPI.URL(), isSend[kakaoAccount]),
		nhnAccount:    newMeter(t, nhnAPI.URL(), isSend[nhnAccount]),
		throttledAcct: newMeter(t, kakaoAPI.URL(), isSend[kakaoAccount]),
	}
	kakaoCreds := map[string]any{"client_id": map[string]string{"value": kakaofake.ClientID}, "client_secret": map[string]string{"value": kakaofake.ClientSecret}}
	// The meters stamp arrivals in this process, which also runs NATS for
	// four workers on two shared cores: its stalls bunch a few of 50
	// requests a second into the next second. A headroom of 6% absorbs a
	// stall of 60 ms and still leaves 94% of the limit. (NHN's requests
	// come a second apart: its default 3% is 30 ms.)
	kakaoLimit := func() map[string]any { return map[string]any{"requests_per_second": kakaoRPS, "headroom": 0.06} }
	account := func(name, provider string, limit map[string]any, creds, opts map[string]any) map[string]any {
		opts["not_found_after"] = notFoundAfter.String()
		return map[string]any{"name": name, "provider": provider, "base_url": meters[name].srv.URL, "credentials": creds,
			"request_timeout": requestTimeout.String(), "rate_limit": limit, "options": opts,
			"retry": map[string]any{"initial_interval": "1s", "max_interval": "2s", "max_attempts": 20,
				"lookup_after": lookupAfter.String(), "max_lookups": maxLookups}}
	}
	cfg := map[string]any{
		"nats": map[string]any{"url": ns.ClientURL()},
		// A few jobs a replica (a few NHN jobs of 1,000 recipients, 6 s of
		// Kakao's), so that the others have work when one is killed and
		// its jobs wait for their ack wait.
		"worker": map[string]any{"ack_wait": ackWait.String(), "shutdown_grace": shutdownGrace.String(), "lane_bytes": 300_000, "pull_batch": 300},
		"http":   map[string]any{"addr": ""},
		"log":    map[string]any{"level": "info", "format": "json"},
		"accounts": []any{
			account(kakaoAccount, "kakao", kakaoLimit(), kakaoCreds, map[string]any{"sender_no": kakaoSenderNo}),
			account(nhnAccount, "nhn", map[string]any{"recipients_per_second": nhnRPS},
				map[string]any{"secret_key": map[string]string{"value": nhnfake.SecretKey}}, map[string]any{"app_key": nhnfake.AppKey}),
			account(throttledAcct, "kakao", kakaoLimit(), kakaoCreds, map[string]any{"sender_no": kakaoSenderNo}),
		},
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "worker.yaml")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		t.Fatal(err)
	}

	// Backlogs that outlast the three phases at the limits, with 10% to
	// spare; the throttled account's runs out after them and is drained.
	seq := 0
	newJob := func(acct string, kind job.Kind, sender, template string, n int) *job.Job {
		j := &job.Job{Version: 1, ID: fmt.Sprintf("rl-%s-%06d", acct, seq), Account: acct, Kind: kind, Sender: sender, Template: template}
		for range n {
			j.Recipients = append(j.Recipients, job.Recipient{Ref: strconv.Itoa(seq), Phone: fmt.Sprintf("010-%04d-%04d", seq/10000, seq%10000),
				Content: fmt.Sprintf("주문하신 상품이 발송되었습니다.\n주문번호: %d", 100000+seq)})
			seq++
		}
		return j
	}
	span := 3 * phase.Seconds() * 1.1
	var jobs, throttledJobs []*job.Job
	for range int(span * kakaoRPS) {
		jobs = append(jobs, newJob(kakaoAccount, job.AlimTalk, senderKey, "ORDER_SHIPPED", 1))
	}
	for range int(span) + 1 {
		jobs = append(jobs, newJob(nhnAccount, job.AlimTalk, senderKey, "ORDER_SHIPPED", nhnRPS))
	}
	for range int(2 * phase.Seconds() * kakaoRPS) {
		throttledJobs = append(throttledJobs, newJob(throttledAcct, job.AlimTalk, senderKey, "ORDER_SHIPPED", 1))
	}
	if err := publishJobs(ctx, js, append(jobs, throttledJobs...)); err != nil {
		t.Fatal(err)
	}

	// A stall longer than 50 ms can bunch the 47 requests a second the
	// Kakao accounts are admitted (6% headroom) into 50.
	st := watchStalls(t, 50*time.Millisecond)
	meters[throttledAcct].throttle.Store(true)
	workers := []*workerProc{startWorker(t, bin, cfgPath, dir, 1), startWorker(t, bin, cfgPath, dir, 2), startWorker(t, bin, cfgPath, dir, 3)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tail of worker 2's log:\n%s", tail(workers[1].log, 40))
		}
	})
	waitFor(t, time.Minute, "the first Kakao request", func() bool { return len(meters[kakaoAccount].list()) > 0 })
	start := time.Now()
	sleep := func(d time.Duration) {
		time.Sleep(d)
		for _, w := range workers {
			if err := w.running(); err != nil && w != workers[0] {
				t.Fatal(err)
			}
		}
	}
	sleep(phase)
	workers[0].kill()
	meters[throttledAcct].throttle.Store(false)
	killed := time.Now()
	sleep(phase)
	workers = append(workers, startWorker(t, bin, cfgPath, dir, 4))
	fourth := time.Now()
	sleep(phase)
	end := time.Now()
	total := int(end.Unix()-start.Unix()) + 1
	stalled := st.count(start, end)
	t.Logf("this process stalled over 50 ms in %d of %d seconds; those are left out of the most-per-second checks", stalled, total)
	if stalled > total/2 {
		t.Fatalf("this process stalled in %d of %d seconds: the meters could not measure the limit (machine too loaded)", stalled, total)
	}

	for _, c := range []struct {
		acct  string
		w     weight
		limit float64
	}{{kakaoAccount, requests, kakaoRPS}, {nhnAccount, recipients, nhnRPS}} {
		as := meters[c.acct].list()
		t.Logf("%s per wall-clock second: %v", c.acct, perSecond(as, c.w, start, end))
		most, at := maxPerSecond(as, c.w, st)
		avg := rateIn(as, c.w, start.Add(time.Second), end)
		after := rateIn(as, c.w, killed.Add(3*time.Second), killed.Add(min(phase, 10*time.Second)))
		withFourth := rateIn(as, c.w, fourth.Add(3*time.Second), end)
		t.Logf("%s: at most %d in a wall-clock second (limit %g); %.1f/s on average (%.0f%%), %.1f/s 3-%s after the kill (%.0f%%), %.1f/s with the fourth replica",
			c.acct, most, c.limit, avg, 100*avg/c.limit, after, min(phase, 10*time.Second), 100*after/c.limit, withFourth)
		if float64(most) > c.limit*tol.over {
			t.Errorf("%s: %d arrived in the second of %s, limit %g%s", c.acct, most, at.Format(time.TimeOnly), c.limit, tol)
		}
		if avg < tol.least*c.limit {
			t.Errorf("%s: %.1f/s on average, want at least %.0f%% of %g%s", c.acct, avg, 100*tol.least, c.limit, tol)
		}
		if after < tol.least*c.limit {
			t.Errorf("%s: %.1f/s within 10 s of the kill, want at least %.0f%% of %g%s", c.acct, after, 100*tol.least, c.limit, tol)
		}
	}

	as := meters[throttledAcct].list()
	throttled := 0
	for _, a := range as {
		if a.throttled {
			throttled++
		}
	}
	most, _ := maxPerSecond(as, requests, st)
	during := countIn(as, requests, start.Add(2*time.Second), killed)
	recovered := rateIn(as, requests, fourth.Add(3*time.Second), end)
	t.Logf("%s: %d answered 429; %.1f requests/s during the 429s, %.1f/s after them; at most %d in a second",
		throttledAcct, throttled, during, recovered, most)
	switch {
	case throttled == 0:
		t.Errorf("%s: no request was answered 429", throttledAcct)
	case during > 0.6*kakaoRPS:
		t.Errorf("%s: %.1f requests/s while a fifth were answered 429, want the rate cut below 60%% of %d", throttledAcct, during, kakaoRPS)
	case recovered < tol.least*kakaoRPS:
		t.Errorf("%s: %.1f requests/s after the 429s stopped, want at least %.0f%% of %d%s", throttledAcct, recovered, 100*tol.least, kakaoRPS, tol)
	case float64(most) > kakaoRPS*tol.over:
		t.Errorf("%s: %d requests in one second, limit %d%s", throttledAcct, most, kakaoRPS, tol)
	}

	// Nothing lost, nothing sent twice: every recipient of the throttled
	// account is taken once and has one result, accepted.
	var refs []recipientRef
	for _, j := range throttledJobs {
		for i, r := range j.Recipients {
			refs = append(refs, recipientRef{account: throttledAcct, jobID: j.ID, index: i, phone: r.Phone})
		}
	}
	rs := newResults()
	waitFor(t, 2*time.Minute, "a result for every recipient of "+throttledAcct, func() bool {
		return rs.read(ctx, js) == nil && len(rs.missing(refs)) == 0
	})
	for _, r := range refs {
		got := rs.byKey[r.key()]
		if n := kakaoAPI.AcceptedTo(r.phone); n != 1 || len(got.statuses) != 1 || got.statuses[0] != result.Accepted {
			t.Errorf("%s: taken %d times, results %v %v, want taken once and one result accepted", r.key(), n, got.statuses, got.reasons)
		}
	}
}
