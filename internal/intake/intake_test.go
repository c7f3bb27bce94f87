package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/streams"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, natstest.LeakOptions()...)
}

const kind = "alimtalk"

// env is a nats-server with the talkrelay streams.
type env struct {
	t   *testing.T
	srv *natstest.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func newEnv(t *testing.T, sc streams.Config) *env {
	t.Helper()
	srv := natstest.Run(t)
	nc, js := srv.JetStream(t)
	if err := streams.Ensure(t.Context(), js, sc); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, nc: nc, js: js}
}

// config is intake's config as the worker builds it, with its defaults
// (worker.* in internal/config), unless a test says otherwise.
func (e *env) config() Config {
	return Config{
		Consumer:      streams.WorkerConsumer,
		AckWait:       time.Minute,
		MaxDeliver:    10,
		MaxAckPending: 20000,
		PullBatch:     1000,
		LaneBytes:     8 << 20,
		Starters:      2,
		Log:           zerolog.New(zerolog.NewTestWriter(e.t)).With().Timestamp().Logger().Level(zerolog.WarnLevel),
	}
}

// start starts intake for accounts on a connection of its own; it is
// stopped and closed when the test ends.
func (e *env) start(cfg Config, h Handler, accounts ...string) *Intake {
	e.t.Helper()
	_, js := e.srv.JetStream(e.t)
	in := New(js, cfg, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Start(ctx, accounts); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { in.Stop(); in.Close() })
	return in
}

func (e *env) publish(subj string, data []byte) uint64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := e.js.Publish(ctx, subj, data)
	if err != nil {
		e.t.Fatalf("publish %s: %v", subj, err)
	}
	return ack.Sequence
}

// publishJobs publishes n jobs of size bytes on subj.
func (e *env) publishJobs(subj string, n, size int) {
	e.t.Helper()
	for i := range n {
		e.publish(subj, job(i, size))
	}
}

// job is a job body of size bytes (at least its id).
func job(i, size int) []byte {
	b := fmt.Appendf(nil, `{"id":"job-%d"}`, i)
	for len(b) < size {
		b = append(b, ' ')
	}
	return b
}

func (e *env) consumer(name string) *jetstream.ConsumerInfo {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.js.Consumer(ctx, streams.JobsStream, name)
	if err != nil {
		e.t.Fatalf("consumer %s: %v", name, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		e.t.Fatalf("consumer %s: %v", name, err)
	}
	return info
}

// recorder is a Handler that records what it receives and settles (Ack +
// Done) on demand, or at once when auto is set.
type recorder struct {
	mu   sync.Mutex
	got  []*Msg         // every message received, in order
	open []*Msg         // received, not settled
	seen map[uint64]int // stream sequence -> times received
	auto bool
	gate chan struct{} // if set, calls wait for it to close before returning
	// maxDelivered is the highest delivery count NATS gave a message.
	maxDelivered uint64
}

func newRecorder() *recorder { return &recorder{seen: map[uint64]int{}} }

func (r *recorder) handle(_ *Lane, msgs []*Msg) {
	r.mu.Lock()
	for _, m := range msgs {
		r.got = append(r.got, m)
		r.seen[m.Seq]++
		r.maxDelivered = max(r.maxDelivered, m.Delivered)
		if !r.auto {
			r.open = append(r.open, m)
		}
	}
	auto, gate := r.auto, r.gate
	r.mu.Unlock()
	if auto {
		for _, m := range msgs {
			_ = m.Ack()
			m.Done()
		}
	}
	if gate != nil {
		<-gate
	}
}

// settle acknowledges the n oldest open messages (all if n < 0) and
// returns how many it settled.
func (r *recorder) settle(n int) int {
	r.mu.Lock()
	if n < 0 || n > len(r.open) {
		n = len(r.open)
	}
	out := r.open[:n:n]
	r.open = r.open[n:]
	r.mu.Unlock()
	for _, m := range out {
		if err := m.Ack(); err != nil {
			panic(fmt.Sprintf("ack seq %d: %v", m.Seq, err))
		}
		m.Done()
	}
	return n
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// nth returns the i-th message received.
func (r *recorder) nth(i int) *Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[i]
}

// bySubject returns the first message received on subj, or nil.
func (r *recorder) bySubject(subj string) *Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.got {
		if m.Subject() == subj {
			return m
		}
	}
	return nil
}

func (r *recorder) maxSeen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.seen {
		n = max(n, c)
	}
	return n
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// steady checks that cond keeps holding for d.
func steady(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("no longer true: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func laneOfAccount(acct string, urgent bool) string {
	return laneName(streams.WorkerConsumer, acct, urgent)
}

// 1. A lane holds at most PullBatch messages: the rest wait in the stream,
// not in this process, and settling frees exactly as many credits.
func TestCreditsByCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	e.publishJobs(streams.JobSubject("a", kind), 50, 100)
	cfg := e.config()
	cfg.PullBatch = 5
	rec := newRecorder()
	in := e.start(cfg, rec.handle, "a")

	lane := laneOfAccount("a", false)
	held := func(n int) func() bool {
		return func() bool {
			return in.Held() == n && rec.count() == n && e.consumer(lane).NumAckPending == n
		}
	}
	waitFor(t, 5*time.Second, "5 held", held(5))
	steady(t, time.Second, "5 held, 5 pending acks", held(5))
	if p := e.consumer(lane).NumPending; p != 45 {
		t.Fatalf("consumer has %d pending, want 45", p)
	}

	rec.settle(2)
	heldAgain := func() bool {
		return in.Held() == 5 && rec.count() == 7 && e.consumer(lane).NumAckPending == 5
	}
	waitFor(t, 5*time.Second, "7 received, 5 held", heldAgain)
	steady(t, time.Second, "7 received, 5 held", heldAgain)
}

// A busy lane settles its messages one at a time; it pulls again only
// once a quarter of its credits are free, not one pull request (and one
// client subscription) for each settled message.
func TestRefillByQuarters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	lane := laneOfAccount("a", false)
	var mu sync.Mutex
	var asked []int // the batch of each pull request of the lane
	sub, err := e.nc.Subscribe("$JS.API.CONSUMER.MSG.NEXT."+streams.JobsStream+"."+lane, func(m *nats.Msg) {
		var req struct {
			Batch int `json:"batch"`
		}
		if err := json.Unmarshal(m.Data, &req); err != nil {
			t.Errorf("pull request %q: %v", m.Data, err)
		}
		mu.Lock()
		asked = append(asked, req.Batch)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	e.publishJobs(streams.JobSubject("a", kind), 40, 100)
	cfg := e.config()
	cfg.PullBatch = 8
	rec := newRecorder()
	in := e.start(cfg, rec.handle, "a")
	waitFor(t, 5*time.Second, "8 held", func() bool { return in.Held() == 8 })
	for rec.count() < 40 {
		if rec.settle(1) == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		time.Sleep(5 * time.Millisecond) // the puller sees each settlement alone
	}
	rec.settle(-1)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("pull requests' batches: %v", asked)
	if len(asked) < 2 {
		t.Fatalf("%d pull requests for 40 jobs through a lane of 8", len(asked))
	}
	for _, n := range asked {
		if n < refill(cfg.PullBatch) {
			t.Fatalf("a pull request asked for %d messages; a lane holding messages waits for %d free: %v", n, refill(cfg.PullBatch), asked)
		}
	}
}

// 2. A lane holds at most LaneBytes of messages, counted as data +
// msgOverhead each; a lane holding nothing still takes one message of any
// size.
func TestCreditsByBytes(t *testing.T) {
	t.Parallel()
	sc := streams.DefaultConfig()
	sc.MaxMsgSize = 1 << 20
	setup := func(t *testing.T) (*env, Config, *recorder, *Intake) {
		e := newEnv(t, sc)
		cfg := e.config()
		cfg.LaneBytes = 64 << 10
		cfg.PullBatch = 100
		rec := newRecorder()
		return e, cfg, rec, e.start(cfg, rec.handle, "a")
	}
	subj := streams.JobSubject("a", kind)

	t.Run("bound", func(t *testing.T) {
		t.Parallel()
		e, cfg, rec, in := setup(t)
		const size = 20 << 10
		// The most a lane holds: every message counts its data and
		// msgOverhead, and NATS sends a message only while it fits the
		// bytes left (counting its subject, reply subject and headers,
		// which take less than msgOverhead here).
		bound := cfg.LaneBytes / (size + msgOverhead) // 3
		e.publishJobs(subj, 10, size)
		waitFor(t, 5*time.Second, fmt.Sprintf("%d held", bound), func() bool { return in.Held() >= bound })
		steady(t, time.Second, fmt.Sprintf("at most %d held", bound), func() bool {
			if in.Held() > bound || rec.count() > bound {
				t.Logf("held %d, received %d", in.Held(), rec.count())
				return false
			}
			return true
		})
		if got := in.Held(); got != bound {
			t.Fatalf("held %d, want %d", got, bound)
		}
		// Settling one lets in one more, no more.
		rec.settle(1)
		waitFor(t, 5*time.Second, "one more", func() bool { return rec.count() == bound+1 })
		steady(t, 500*time.Millisecond, "still bound", func() bool { return in.Held() <= bound })
		waitFor(t, 5*time.Second, "all jobs", func() bool { rec.settle(-1); return rec.count() == 10 })
		rec.settle(-1)
	})

	t.Run("larger than LaneBytes", func(t *testing.T) {
		t.Parallel()
		e, _, rec, _ := setup(t)
		// An empty lane takes a job larger than LaneBytes; while it holds
		// it, nothing else comes in.
		big := e.publish(subj, job(100, 200<<10))
		waitFor(t, 5*time.Second, "the 200 KiB job", func() bool { return rec.count() == 1 })
		if m := rec.nth(0); m.Seq != big {
			t.Fatalf("got seq %d, want the big job %d", m.Seq, big)
		}
		e.publish(subj, job(101, 100))
		steady(t, 500*time.Millisecond, "nothing beside the big job", func() bool { return rec.count() == 1 })
		rec.settle(-1)
		waitFor(t, 5*time.Second, "the small job after the big one", func() bool { return rec.count() == 2 })
		rec.settle(-1)
		// And behind small jobs: it waits until they are settled.
		e.publishJobs(subj, 2, 100)
		big = e.publish(subj, job(102, 200<<10))
		waitFor(t, 5*time.Second, "the small jobs", func() bool { return rec.count() == 4 })
		steady(t, 300*time.Millisecond, "the big job waits", func() bool { return rec.count() == 4 })
		rec.settle(-1)
		waitFor(t, 5*time.Second, "the big job", func() bool { return rec.count() == 5 && rec.nth(4).Seq == big })
		rec.settle(-1)
	})

	t.Run("largest job, long subject", func(t *testing.T) {
		t.Parallel()
		e, _, rec, _ := setup(t)
		// The largest message the stream takes, on a subject long enough
		// that NATS counts more than the stream's max_msg_size plus msgOverhead for it (it
		// counts subject and reply subject too).
		longSubj := streams.JobsPrefix + ".a." + strings.Repeat("k", 400)
		huge := e.publish(longSubj, job(102, int(sc.MaxMsgSize)))
		waitFor(t, 5*time.Second, "the largest job on a long subject", func() bool { return rec.count() == 1 })
		if m := rec.nth(0); m.Seq != huge {
			t.Fatalf("got seq %d, want %d", m.Seq, huge)
		}
		rec.settle(-1)
	})
}

// 3. Held messages are kept alive: with a 1s ack wait, messages held for
// 4s are not redelivered.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes seconds")
	}
	e := newEnv(t, streams.DefaultConfig())
	cfg := e.config()
	cfg.AckWait = time.Second
	rec := newRecorder()
	in := e.start(cfg, rec.handle, "a")
	lane := laneOfAccount("a", false)
	if got := e.consumer(lane).Config.AckWait; got != time.Second {
		t.Fatalf("consumer ack wait %s, want 1s", got)
	}
	e.publishJobs(streams.JobSubject("a", kind), 5, 100)
	waitFor(t, 5*time.Second, "5 received", func() bool { return rec.count() == 5 })
	time.Sleep(4 * time.Second)
	info := e.consumer(lane)
	if info.NumRedelivered != 0 || rec.count() != 5 || rec.maxSeen() != 1 || in.Held() != 5 {
		t.Fatalf("after 4s: redelivered %d, received %d (max %d times each), held %d; want 0, 5 (once), 5",
			info.NumRedelivered, rec.count(), rec.maxSeen(), in.Held())
	}
	if info.NumAckPending != 5 {
		t.Fatalf("ack pending %d, want 5", info.NumAckPending)
	}
	rec.settle(-1)
	waitFor(t, 5*time.Second, "all acknowledged", func() bool {
		i := e.consumer(lane)
		return i.NumAckPending == 0 && i.NumPending == 0 && in.Held() == 0
	})
}

// 4. One account's full lane does not hold up another account's jobs.
func TestLaneIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	cfg := e.config()
	cfg.PullBatch = 3
	rec := newRecorder()
	in := e.start(cfg, rec.handle, "a", "b")
	e.publishJobs(streams.JobSubject("a", kind), 20, 100)
	waitFor(t, 5*time.Second, "a's lane full", func() bool { return in.Held() == 3 })

	subj := streams.JobSubject("b", kind)
	t0 := time.Now()
	e.publish(subj, job(1, 100))
	waitFor(t, 2*time.Second, "b's job", func() bool { return rec.bySubject(subj) != nil })
	t.Logf("b's job arrived %s after publishing, with a's lane full", time.Since(t0))
	m := rec.bySubject(subj)
	if m.Lane().Account != "b" || m.Lane().Urgent {
		t.Fatalf("b's job on lane %s (account %q, urgent %v)", m.Lane().Name(), m.Lane().Account, m.Lane().Urgent)
	}
	if in.Held() != 4 {
		t.Fatalf("held %d, want 4", in.Held())
	}
}

// A lane that holds messages and has credits left pulls again as soon as a
// pull request expires: a job published while no request waits is taken
// at once.
func TestNoPullGap(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes seconds")
	}
	e := newEnv(t, streams.DefaultConfig())
	cfg := e.config()
	cfg.PullWait = 2 * time.Second
	rec := newRecorder()
	in := e.start(cfg, rec.handle, "a")
	subj := streams.JobSubject("a", kind)
	e.publish(subj, job(0, 100)) // held, never settled
	waitFor(t, 5*time.Second, "first job", func() bool { return in.Held() == 1 })
	// Watch the lane's pull requests across a few expiries; whenever none
	// waits, publish a job and see how long it takes to arrive.
	lane := laneOfAccount("a", false)
	var worst time.Duration
	seen := 0
	for end := time.Now().Add(3 * cfg.PullWait); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if e.consumer(lane).NumWaiting > 0 {
			continue
		}
		seen++
		seq := e.publish(subj, job(seen, 100))
		t0 := time.Now()
		waitFor(t, 5*time.Second, "the job", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return rec.seen[seq] > 0
		})
		worst = max(worst, time.Since(t0))
	}
	t.Logf("%d jobs published while no pull request waited; the longest took %s", seen, worst)
	if worst > 100*time.Millisecond {
		t.Fatalf("a job waited %s for a lane with credits", worst)
	}
}

// 5. Urgent jobs and urgent retries come through the urgent lane, which
// has its own credits.
func TestUrgentLane(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	cfg := e.config()
	cfg.PullBatch = 3
	rec := newRecorder()
	in := e.start(cfg, rec.handle, "a")
	e.publishJobs(streams.JobSubject("a", kind), 10, 100)
	waitFor(t, 5*time.Second, "normal lane full", func() bool { return in.Held() == 3 })

	for _, subj := range []string{streams.JobSubjectFor("a", kind, true), streams.RetrySubjectFor("a", true)} {
		t0 := time.Now()
		e.publish(subj, job(1, 100))
		waitFor(t, 2*time.Second, subj, func() bool { return rec.bySubject(subj) != nil })
		m := rec.bySubject(subj)
		t.Logf("%s arrived after %s", subj, time.Since(t0))
		if l := m.Lane(); !l.Urgent || l.Account != "a" || l.Name() != laneOfAccount("a", true) {
			t.Fatalf("%s on lane %s (account %q, urgent %v)", subj, l.Name(), l.Account, l.Urgent)
		}
	}
	// A normal retry waits behind the normal lane's credits, then comes
	// on the normal lane.
	retry := streams.RetrySubjectFor("a", false)
	e.publish(retry, job(2, 100))
	steady(t, 300*time.Millisecond, "normal retry waits", func() bool { return rec.bySubject(retry) == nil })
	waitFor(t, 5*time.Second, "normal retry once jobs are settled", func() bool {
		rec.settle(-1)
		return rec.bySubject(retry) != nil
	})
	if l := rec.bySubject(retry).Lane(); l.Urgent || l.Account != "a" {
		t.Fatalf("normal retry on lane %s", l.Name())
	}
	rec.settle(-1)
}

// 6. Jobs of accounts without a lane are found and taken, on lanes of
// their own; account tokens that are not plain names get hashed consumer
// names.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	cfg := e.config()
	cfg.Discover = 200 * time.Millisecond
	// A retired lane's last pull runs until it expires, and what it takes
	// comes back then: keep that short.
	cfg.PullWait = time.Second
	rec := newRecorder()
	in := e.start(cfg, rec.handle, "a")

	cases := []struct {
		acct   string
		urgent bool
	}{{"nosuch", false}, {"nosuch", true}, {"we$ird", false}, {"ti~lde", true}}
	for _, c := range cases {
		subj := streams.JobsPrefix + "." + c.acct + "." + kind
		if c.urgent {
			subj += "." + streams.UrgentSuffix
		}
		t0 := time.Now()
		e.publish(subj, job(1, 100))
		waitFor(t, 3*time.Second, subj, func() bool { return rec.bySubject(subj) != nil })
		t.Logf("%s arrived after %s", subj, time.Since(t0))
		l := rec.bySubject(subj).Lane()
		if l.Account != c.acct || l.Urgent != c.urgent {
			t.Fatalf("%s on lane %s (account %q, urgent %v)", subj, l.Name(), l.Account, l.Urgent)
		}
		if streams.Token(c.acct) != c.acct {
			if strings.Contains(l.Name(), c.acct) || !strings.HasPrefix(l.Name(), streams.WorkerConsumer+"-x") {
				t.Fatalf("account %q: consumer name %q is not hashed", c.acct, l.Name())
			}
		} else if l.Name() != laneOfAccount(c.acct, c.urgent) {
			t.Fatalf("lane %s, want %s", l.Name(), laneOfAccount(c.acct, c.urgent))
		}
		e.consumer(l.Name()) // exists
	}
	// Retries of an unconfigured account too.
	retry := streams.RetrySubject("other")
	e.publish(retry, job(2, 100))
	waitFor(t, 3*time.Second, retry, func() bool { return rec.bySubject(retry) != nil })

	// Once settled, the discovered lanes close; a later job opens one
	// again.
	rec.settle(-1)
	discovered := func() int {
		in.mu.Lock()
		defer in.mu.Unlock()
		n := 0
		for _, l := range in.lanes {
			if !l.configured {
				n++
			}
		}
		return n
	}
	waitFor(t, 3*time.Second, "discovered lanes closed", func() bool { return discovered() == 0 })
	subj := streams.JobSubject("nosuch", kind)
	n := rec.count()
	e.publish(subj, job(3, 100))
	waitFor(t, 3*time.Second, "a later job of nosuch", func() bool { return rec.count() == n+1 })
	rec.settle(-1)
}

// Discovered lanes close when idle and open again when jobs come, while
// jobs keep coming: every job is taken, none is lost in a closing lane.
func TestDiscoveryChurn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	cfg := e.config()
	cfg.Discover = time.Millisecond
	cfg.AckWait = 2 * time.Second
	cfg.PullWait = time.Second // a retired lane's last pull runs until it expires
	rec := newRecorder()
	rec.auto = true
	e.start(cfg, rec.handle, "a")
	subj := streams.JobSubject("nosuch", kind)
	const jobs = 1000
	for i := range jobs {
		e.publish(subj, job(i, 100))
		time.Sleep(time.Duration(i%3) * time.Millisecond)
	}
	waitFor(t, 3*cfg.AckWait, "every job", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.seen) == jobs
	})
	// A job taken by a closing lane is handed back once its pull is
	// over, not bounced between NATS and that pull until MaxDeliver. (With
	// lanes closing and opening every millisecond a job is handed back
	// now and then.)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.maxDelivered > uint64(cfg.MaxDeliver/2) {
		t.Fatalf("a job was delivered %d times", rec.maxDelivered)
	}
}

// 7. The single consumer of earlier versions is removed at Start; the job
// it held comes through the lane at once.
func TestLegacyConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	ctx := t.Context()
	legacy, err := e.js.CreateOrUpdateConsumer(ctx, streams.JobsStream, jetstream.ConsumerConfig{
		Durable:        streams.WorkerConsumer,
		FilterSubjects: []string{streams.JobsPrefix + ".>", streams.RetryPrefix + ".>"},
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	seq := e.publish(streams.JobSubject("a", kind), job(1, 100))
	batch, err := legacy.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range batch.Messages() {
		n++ // not acknowledged
	}
	if n != 1 || e.consumer(streams.WorkerConsumer).NumAckPending != 1 {
		t.Fatalf("legacy consumer took %d messages", n)
	}

	rec := newRecorder()
	t0 := time.Now()
	e.start(e.config(), rec.handle, "a")
	if _, err := e.js.Consumer(ctx, streams.JobsStream, streams.WorkerConsumer); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("legacy consumer still there: %v", err)
	}
	waitFor(t, 3*time.Second, "the legacy consumer's job", func() bool { return rec.count() == 1 })
	t.Logf("the job came again after %s", time.Since(t0))
	if m := rec.nth(0); m.Seq != seq || m.Lane().Name() != laneOfAccount("a", false) {
		t.Fatalf("got seq %d on %s", m.Seq, m.Lane().Name())
	}
	rec.settle(-1)
}

// 8. Stop hands back what was taken but not started, returns while the
// handler still holds messages (kept alive until Close), and leaks nothing.
func TestStop(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes seconds")
	}
	e := newEnv(t, streams.DefaultConfig())
	cfg := e.config()
	cfg.AckWait = 2 * time.Second
	cfg.PullBatch = 10
	cfg.Starters = 1
	rec := newRecorder()
	rec.gate = make(chan struct{}) // the handler's first call blocks
	_, js := e.srv.JetStream(t)
	in1 := New(js, cfg, rec.handle)
	if err := in1.Start(t.Context(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in1.Stop(); in1.Close() }) // if the test fails early
	// The first job blocks the lane's only starter; the next ones are
	// taken and wait to be started.
	e.publishJobs(streams.JobSubject("a", kind), 1, 100)
	waitFor(t, 5*time.Second, "first job started", func() bool { return rec.count() == 1 })
	e.publishJobs(streams.JobSubject("a", kind), 9, 100)
	waitFor(t, 5*time.Second, "10 held", func() bool { return in1.Held() == 10 })
	started := rec.count()
	if started != 1 {
		t.Fatalf("%d started, want 1", started)
	}
	stopped := make(chan struct{})
	go func() { in1.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a handler call was running")
	case <-time.After(200 * time.Millisecond):
	}
	rec.mu.Lock()
	close(rec.gate)
	rec.gate = nil
	rec.mu.Unlock()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return")
	}
	if rec.count() != started {
		t.Fatalf("%d messages started after Stop", rec.count()-started)
	}
	waitFor(t, 2*time.Second, "unstarted messages handed back", func() bool { return in1.Held() == started })

	// Another replica gets the handed-back messages at once, and jobs
	// published after Stop, but not the ones in1 still holds.
	rec2 := newRecorder()
	rec2.auto = true
	t0 := time.Now()
	in2 := e.start(cfg, rec2.handle, "a")
	waitFor(t, time.Second, "handed-back messages at the other replica", func() bool { return rec2.count() == 10-started })
	t.Logf("%d handed-back messages at the other replica after %s", 10-started, time.Since(t0))
	e.publishJobs(streams.JobSubject("a", kind), 2, 100)
	waitFor(t, time.Second, "new jobs at the other replica", func() bool { return rec2.count() == 12-started })
	steady(t, 3*cfg.AckWait/2, "held messages stay with in1", func() bool {
		return rec2.count() == 12-started && rec2.maxSeen() == 1
	})
	rec.mu.Lock()
	for _, m := range rec.open {
		if rec2.seen[m.Seq] != 0 {
			t.Errorf("seq %d, held by in1, also went to in2", m.Seq)
		}
		if m.Lost() {
			t.Errorf("seq %d, kept alive by in1 past its ack wait, is reported lost", m.Seq)
		}
	}
	rec.mu.Unlock()

	// Close stops keeping them alive: NATS redelivers them after AckWait,
	// and in1 knows they are lost.
	in1.Close()
	waitFor(t, 3*cfg.AckWait, "held messages redelivered after Close", func() bool { return rec2.count() == 12 })
	rec.mu.Lock()
	for _, m := range rec.open {
		if !m.Lost() {
			t.Errorf("seq %d, redelivered to in2, is not reported lost by in1", m.Seq)
		}
		if err := m.Nak(); !errors.Is(err, ErrLost) {
			t.Errorf("seq %d, lost, handed back by in1: %v", m.Seq, err)
		}
	}
	rec.mu.Unlock()
	waitFor(t, 2*time.Second, "in2 empty", func() bool { return in2.Held() == 0 })
	// Stop and Close again do nothing.
	in1.Stop()
	in1.Close()
}

// Stop on a lane that is busy taking a backlog loses nothing in flight:
// whatever NATS delivered to its last pull is taken and handed back, so
// the next replica gets every remaining job at once, not after AckWait.
// Replicas take turns: each takes some jobs and stops.
func TestStopBusyLane(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	cfg := e.config()
	cfg.AckWait = 20 * time.Second
	cfg.PullBatch = 50
	const jobs, turns = 3000, 5
	e.publishJobs(streams.JobSubject("a", kind), jobs, 100)
	rec := newRecorder()
	rec.auto = true
	slow := func(l *Lane, msgs []*Msg) {
		time.Sleep(100 * time.Microsecond)
		rec.handle(l, msgs)
	}
	unique := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.seen)
	}
	for turn := 1; turn <= turns; turn++ {
		_, js := e.srv.JetStream(t)
		in := New(js, cfg, slow)
		if err := in.Start(t.Context(), []string{"a"}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Stop(); in.Close() }) // if the test fails early
		// Every job left comes at once, or this waits until AckWait.
		waitFor(t, cfg.AckWait/4, fmt.Sprintf("turn %d: its share of the jobs", turn), func() bool {
			return unique() >= turn*jobs/(turns+1)
		})
		t0 := time.Now()
		in.Stop()
		t.Logf("turn %d: Stop took %s", turn, time.Since(t0))
		in.Close()
		if in.Held() != 0 {
			t.Fatalf("turn %d: %d held after Stop", turn, in.Held())
		}
	}
	e.start(cfg, rec.handle, "a")
	waitFor(t, cfg.AckWait/4, "every job", func() bool { return unique() == jobs })
	// Each replica has a job delivered once at most: what a stopping lane
	// takes is handed back once its pull is over, not bounced back to it.
	// (A job handed back at one turn may be handed back at the next too.)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.maxDelivered > turns+1 {
		t.Fatalf("a job was delivered %d times", rec.maxDelivered)
	}
}

// 9. A lane whose consumer is deleted under it creates it again and keeps
// pulling: deleted while a pull request waits (NATS answers it "consumer
// deleted") and while the lane is full and not pulling (its next pull finds
// no consumer: "no responders").
func TestConsumerDeleted(t *testing.T) {
	t.Parallel()
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("full=%v", full), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, streams.DefaultConfig())
			cfg := e.config()
			cfg.PullBatch = 1
			rec := newRecorder()
			rec.auto = !full
			e.start(cfg, rec.handle, "a")
			subj := streams.JobSubject("a", kind)
			first := e.publish(subj, job(1, 100))
			waitFor(t, 5*time.Second, "first job", func() bool { return rec.count() == 1 })

			lane := laneOfAccount("a", false)
			if !full {
				// Let the first job's acknowledgement reach the consumer
				// before it goes (else the new consumer delivers it
				// again, which is right but not this test's point).
				waitFor(t, 5*time.Second, "first job acknowledged", func() bool { return e.consumer(lane).NumAckPending == 0 })
			}
			if err := e.js.DeleteConsumer(t.Context(), streams.JobsStream, lane); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			second := e.publish(subj, job(2, 100))
			if full {
				// The job held across the deletion is settled later: its
				// acknowledgement is in vain and the new consumer
				// delivers it again.
				time.Sleep(200 * time.Millisecond)
			}
			waitFor(t, 10*time.Second, "the job published after the deletion", func() bool {
				rec.settle(-1)
				rec.mu.Lock()
				defer rec.mu.Unlock()
				return rec.seen[second] == 1
			})
			t.Logf("job received %s after the deletion", time.Since(t0))
			if full {
				waitFor(t, 5*time.Second, "the held job again", func() bool {
					rec.mu.Lock()
					defer rec.mu.Unlock()
					return rec.seen[first] == 2
				})
				rec.settle(-1)
			}
		})
	}
}

// 10. Lanes keep pulling across a restart of the server, and pull again as
// soon as they are reconnected.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes seconds")
	}
	e := newEnv(t, streams.DefaultConfig())
	rec := newRecorder()
	rec.auto = true
	cfg := e.config()
	cfg.PullWait = 5 * time.Second // the default
	e.start(cfg, rec.handle, "a", "b")
	e.publish(streams.JobSubject("a", kind), job(1, 100))
	e.publish(streams.JobSubjectFor("b", kind, true), job(2, 100))
	waitFor(t, 5*time.Second, "jobs before the restart", func() bool { return rec.count() == 2 })

	e.srv.Restart()
	t0 := time.Now()
	// The test's own connection reconnects too; publish once it has.
	waitFor(t, 10*time.Second, "publisher reconnected", func() bool { return e.nc.IsConnected() })
	t1 := time.Now()
	e.publish(streams.JobSubject("a", kind), job(3, 100))
	e.publish(streams.JobSubjectFor("b", kind, true), job(4, 100))
	e.publish(streams.RetrySubject("b"), job(5, 100))
	waitFor(t, 15*time.Second, "jobs after the restart", func() bool { return rec.count() == 5 })
	took := time.Since(t1)
	t.Logf("publisher reconnected %s after the restart; the jobs it published then arrived %s later", t1.Sub(t0), took)
	// Intake's connection reconnects about when the publisher's does; its
	// lanes pull again then, without waiting for the pulls sent before the
	// restart to expire.
	if took > cfg.PullWait/2 {
		t.Fatalf("jobs took %s to arrive after the reconnection", took)
	}
}

// Throughput of intake alone: one lane, 20,000 small jobs queued before it
// starts, a handler that settles (Ack + Done) at once. The timed part is
// from Start to the last job handed to the handler; jobs/s is over all
// iterations.
//
//	go test -run '^$' -bench Intake -benchtime 10x ./internal/intake/
func BenchmarkIntake(b *testing.B) {
	const jobs = 20000
	for b.Loop() {
		b.StopTimer()
		srv := natstest.Run(b)
		nc, js := srv.JetStream(b)
		if err := streams.Ensure(context.Background(), js, streams.DefaultConfig()); err != nil {
			b.Fatal(err)
		}
		ajs, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
		if err != nil {
			b.Fatal(err)
		}
		subj := streams.JobSubject("a", kind)
		for i := range jobs {
			if _, err := ajs.PublishAsync(subj, job(i, 200)); err != nil {
				b.Fatal(err)
			}
		}
		<-ajs.PublishAsyncComplete()
		var n atomic.Int64
		done := make(chan struct{})
		h := func(_ *Lane, msgs []*Msg) {
			for _, m := range msgs {
				_ = m.Ack()
				m.Done()
			}
			if n.Add(int64(len(msgs))) == jobs {
				close(done)
			}
		}
		_, ijs := srv.JetStream(b)
		// The worker's defaults (internal/config), one starter per CPU.
		cfg := Config{Consumer: streams.WorkerConsumer, AckWait: time.Minute, MaxDeliver: 10, MaxAckPending: 20000,
			PullBatch: 1000, LaneBytes: 8 << 20, Starters: runtime.GOMAXPROCS(0), Log: zerolog.Nop()}
		in := New(ijs, cfg, h)
		b.StartTimer()
		if err := in.Start(context.Background(), []string{"a"}); err != nil {
			b.Fatal(err)
		}
		<-done
		b.StopTimer()
		in.Stop()
		in.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(jobs)*float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
