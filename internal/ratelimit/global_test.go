package ratelimit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/natstest"
)

func budgetBucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	_, js := natstest.Run(t).JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, BucketConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// simulate runs limiters on one simulated clock for d, each sending a
// request of n recipients as soon as its previous one fell due, and
// returns the times the requests went.
func simulate(t *testing.T, d time.Duration, n int, limiters ...*Global) []time.Time {
	t.Helper()
	start := time.Now()
	now := start
	for _, l := range limiters {
		l.now = func() time.Time { return now }
	}
	due := make([]int64, len(limiters))
	var sent []time.Time
	for ; now.Before(start.Add(d)); now = now.Add(time.Millisecond) {
		for i, l := range limiters {
			if due[i] > now.UnixNano() {
				continue
			}
			if due[i] != 0 {
				sent = append(sent, time.Unix(0, due[i]))
			}
			next, err := l.reserve(context.Background(), n)
			if err != nil {
				t.Fatal(err)
			}
			due[i] = max(next, now.UnixNano()+1)
		}
	}
	slices.SortFunc(sent, time.Time.Compare)
	return sent
}

// maxInSecond is the most requests within any sliding 1-second window.
func maxInSecond(at []time.Time) int {
	most, i := 0, 0
	for j := range at {
		for at[j].Sub(at[i]) >= time.Second {
			i++
		}
		most = max(most, j-i+1)
	}
	return most
}

func TestGlobalSharesOneLimitAcrossReplicas(t *testing.T) {
	kv := budgetBucket(t)
	cfg := Config{RequestsPerSecond: 50}
	replicas := []*Global{NewGlobal(kv, "acct", cfg, 1), NewGlobal(kv, "acct", cfg, 1), NewGlobal(kv, "acct", cfg, 1)}
	sent := simulate(t, 3*time.Second, 1, replicas...)
	if most := maxInSecond(sent); most > 50 {
		t.Errorf("%d requests within one second from 3 replicas, limit 50", most)
	}
	// 3 s at 48.5/s (headroom 3%), less the first and last request.
	if len(sent) < 143 {
		t.Errorf("%d requests in 3 s at 50/s, want at least 143", len(sent))
	}
	for i, l := range replicas {
		if l.requests.per == 0 {
			t.Errorf("replica %d never claimed", i)
		}
	}
}

func TestGlobalCountsRecipients(t *testing.T) {
	kv := budgetBucket(t)
	cfg := Config{RecipientsPerSecond: 1000}
	sent := simulate(t, 3*time.Second, 250, NewGlobal(kv, "nhn", cfg, 1000), NewGlobal(kv, "nhn", cfg, 1000))
	if most := maxInSecond(sent); most*250 > 1000 {
		t.Errorf("%d recipients within one second, limit 1000", most*250)
	}
	if len(sent) < 10 {
		t.Errorf("%d requests of 250 recipients in 3 s at 1000/s, want at least 10", len(sent))
	}
}

func TestGlobalThrottledCutsEveryReplicasRate(t *testing.T) {
	kv := budgetBucket(t)
	cfg := Config{RequestsPerSecond: 100, Headroom: noHeadroom()}
	a, b := NewGlobal(kv, "acct", cfg, 1), NewGlobal(kv, "acct", cfg, 1)
	now := time.Now()
	a.now = func() time.Time { return now }
	b.now = a.now
	ctx := context.Background()
	if _, err := b.reserve(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := a.Throttled(0); err != nil {
		t.Fatal(err)
	}
	// b reads the cut with its next claim, past its grant of a Slice.
	for range 20 {
		if _, err := b.reserve(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if req, _ := b.Rates(); req != 50 {
		t.Errorf("b's rate after a's cut: %g/s, want 50 (half of 100)", req)
	}
	// A second throttled answer within cutSpacing is the same congestion.
	if err := a.Throttled(0); err != nil {
		t.Fatal(err)
	}
	if req, _ := a.Rates(); req != 50 {
		t.Errorf("a's rate after a second answer at once: %g/s, want 50: no second cut", req)
	}
}

func TestGlobalRecoversGradually(t *testing.T) {
	v := budget{Factor: 0.25, CutAt: 0}
	for _, c := range []struct {
		after time.Duration
		want  float64
	}{{0, 0.25}, {time.Second, 0.45}, {2 * time.Second, 0.65}, {time.Minute, 1}} {
		if got := v.factorAt(int64(c.after)); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("factor %s after a cut to 0.25: %g, want %g", c.after, got, c.want)
		}
	}
}

func TestGlobalRetryAfterPausesEveryReplica(t *testing.T) {
	kv := budgetBucket(t)
	cfg := Config{RequestsPerSecond: 100}
	a, b := NewGlobal(kv, "acct", cfg, 1), NewGlobal(kv, "acct", cfg, 1)
	ctx := context.Background()
	if err := a.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	if err := a.Throttled(time.Second); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*Global{a, b} {
		if err := l.Wait(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(paused); waited < time.Second {
			t.Errorf("admitted %s after a Retry-After of 1s", waited)
		}
	}
}

func TestGlobalStopsAdmittingWithoutNATS(t *testing.T) {
	s := natstest.Run(t)
	_, js := s.JetStream(t)
	kv, err := js.CreateOrUpdateKeyValue(context.Background(), BucketConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	l := NewGlobal(kv, "acct", Config{RequestsPerSecond: 10}, 1)
	if err := l.Wait(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// The first claim's slice holds one token: the next needs NATS.
	if err := l.Wait(ctx, 1); err != context.DeadlineExceeded {
		t.Fatalf("Wait without NATS: %v, want the caller's deadline", err)
	}
}

func FuzzDecodeBudget(f *testing.F) {
	f.Add([]byte(`{"requests_tat":1,"recipients_tat":2,"factor":0.5,"cut_at":3}`))
	f.Add([]byte(`{"factor":-1}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"recipients_log":[{"from":5,"to":1,"n":-3},{"from":-9e18,"to":9e18,"n":1000}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := decodeBudget(b)
		if f := v.factorAt(v.CutAt + 1); !(f > 0 && f <= 1) {
			t.Fatalf("factor %g from %q", f, b)
		}
		// Whatever the log holds, a request finds its time.
		if at := earliest(v.Log, 0, 10, 100, int64(time.Second)); at < 0 {
			t.Fatalf("request placed at %d, before it was asked for, from %q", at, b)
		}
	})
}

func TestGlobalBurstAfterAnIdleSpell(t *testing.T) {
	kv := budgetBucket(t)
	l := NewGlobal(kv, "acct", Config{RequestsPerSecond: 2, Burst: 3, Headroom: noHeadroom()}, 1)
	now := time.Now()
	l.now = func() time.Time { return now }
	for i := range 4 {
		due, err := l.reserve(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		// Three at once, then one every 500 ms.
		if want := now.Add(time.Duration(max(i-2, 0)) * 500 * time.Millisecond).UnixNano(); (due > now.UnixNano()) != (i > 2) || due > want {
			t.Errorf("request %d due %s after now, want %s", i, time.Duration(due-now.UnixNano()), time.Duration(want-now.UnixNano()))
		}
	}
}

// Requests of mixed sizes from two replicas: no window of a second holds
// more recipients than the limit, however the sizes follow each other.
func TestGlobalRecipientsOfMixedSizesStayWithinEverySecond(t *testing.T) {
	kv := budgetBucket(t)
	cfg := Config{RecipientsPerSecond: 1000}
	now := time.Now()
	replicas := []*Global{NewGlobal(kv, "nhn", cfg, 1000), NewGlobal(kv, "nhn", cfg, 1000)}
	type request struct {
		due int64
		n   int
	}
	var reqs []request
	total := 0
	for i, n := range []int{10, 1000, 400, 1000, 1, 700, 300, 999, 2, 1000, 50, 600} {
		l := replicas[i%2]
		l.now = func() time.Time { return now }
		due, err := l.reserve(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		reqs, total = append(reqs, request{due, n}), total+n
	}
	for _, a := range reqs {
		sum := 0
		for _, b := range reqs {
			if b.due >= a.due && b.due < a.due+int64(time.Second) {
				sum += b.n
			}
		}
		if sum > 1000 {
			t.Errorf("%d recipients in the second from +%s, limit 1000", sum, time.Duration(a.due-now.UnixNano()))
		}
	}
	last := reqs[0].due
	for _, r := range reqs {
		last = max(last, r.due)
	}
	t.Logf("%d recipients in %s", total, time.Duration(last-now.UnixNano()))
}

func TestLogMergesWithoutUndercounting(t *testing.T) {
	var log []sent
	sum := 0
	for i := range 100 {
		at := int64(i * i * 1000)
		log = logRequest(log, sent{From: at, To: at, N: i + 1})
		sum += i + 1
	}
	got := 0
	for i, e := range log {
		got += e.N
		if i > 0 && e.From < log[i-1].To {
			t.Errorf("entries %d and %d overlap or are out of order: %+v %+v", i-1, i, log[i-1], e)
		}
	}
	if len(log) > maxLog || got != sum {
		t.Errorf("log of %d entries holding %d recipients, want at most %d holding %d", len(log), got, maxLog, sum)
	}
}

func TestGlobalRetryAfterPausesRecipients(t *testing.T) {
	kv := budgetBucket(t)
	l := NewGlobal(kv, "nhn", Config{RecipientsPerSecond: 1000}, 1000)
	now := time.Now()
	l.now = func() time.Time { return now }
	if err := l.Throttled(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	due, err := l.reserve(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if wait := time.Duration(due - now.UnixNano()); wait < 2*time.Second {
		t.Errorf("recipients admitted %s after a Retry-After of 2s", wait)
	}
	if _, rec := l.Rates(); rec > 500 {
		t.Errorf("recipients rate %g/s after a throttled answer, want at most half of 1000", rec)
	}
}
