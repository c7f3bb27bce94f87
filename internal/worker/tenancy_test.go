package worker_test

// Acceptance tests for the worker's intake: isolation between accounts,
// priority within an account, keep-alive of buffered jobs and idempotency
// that survives restarts. They are written from the specification, ahead
// of the intake rewrite, against real nats-servers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/sandbox"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// ---------------------------------------------------------------------------
// 1. Isolation between accounts

// A backlog on one account, held back by its rate limit, never delays
// another account's jobs: probes on an unlimited account published one
// every 100 ms while the backlog is still being worked off are all answered
// while most of the backlog is still queued, with one and with three
// replicas. Their latency is logged against the specification's 1 s, which
// the bench's tenants profile measures: a test does not fail on timing, and
// this one does not need to. Stuck behind the backlog (one queue for all
// accounts), the probes would wait until it drained (minutes).
func TestIsolationBacklogOnOneAccountDoesNotDelayAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes a 10,000-job backlog and probes for 10 s")
	}
	for _, replicas := range []int{1, 3} {
		t.Run(fmt.Sprintf("replicas_%d", replicas), func(t *testing.T) { testIsolation(t, replicas) })
	}
}

func testIsolation(t *testing.T, replicas int) {
	const (
		backlogJobs = 10_000 // the specification's figure is 100,000; 10,000 is allowed in the test
		probes      = 100
		probeEvery  = 100 * time.Millisecond
		bound       = time.Second // the specification's bound, reported
	)
	e := newEnv(t)
	e.logLevel = zerolog.ErrorLevel // shutting down over a backlog logs many cancelled calls
	rec := newSendRecorder()
	mkcfg := func() *config.Config {
		// batch_limit 10 (instead of the sandbox's 100) keeps the backlog
		// long: at 5 requests/s per replica it drains at 50 (one replica)
		// or 150 (three) recipients per second, so that most of it is still
		// queued when the last probe has been answered.
		a := sandboxAccount("backlog", map[string]any{"batch_limit": 10})
		a.RateLimit.RequestsPerSecond = 5
		cfg := e.config(a, sandboxAccount("probe", nil))
		cfg.Worker.ShutdownGrace = time.Second
		return cfg
	}

	backlog := make([]*job.Job, backlogJobs)
	for i := range backlog {
		backlog[i] = testJob(fmt.Sprintf("backlog-%05d", i), "backlog", 1)
	}
	pubStart := time.Now()
	publishMany(t, e.js, backlog)
	t.Logf("published %d backlog jobs in %s", backlogJobs, time.Since(pubStart).Round(time.Millisecond))

	var backlogDone atomic.Int64
	watchResults(t, e.nc, "talkrelay.results.backlog.>", func(result.Event, time.Time) { backlogDone.Add(1) })
	var mu sync.Mutex
	answered := map[string]time.Time{}
	var backlogDoneAtLastProbe int64
	watchResults(t, e.nc, "talkrelay.results.probe.>", func(ev result.Event, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := answered[ev.JobID]; !ok {
			answered[ev.JobID] = at
			if len(answered) == probes {
				backlogDoneAtLastProbe = backlogDone.Load()
			}
		}
	})

	stops := make([]func() error, replicas)
	for i := range stops {
		stops[i] = e.startWith(mkcfg(), rec.options())
	}
	defer stopAll(t, stops)
	waitFor(t, 20*time.Second, "the backlog account sending", func() bool { return rec.requests("backlog") >= 1 })

	published := make([]time.Time, probes)
	tick := time.NewTicker(probeEvery)
	for i := range probes {
		published[i] = time.Now()
		e.publishJob(testJob(probeID(i), "probe", 1))
		<-tick.C
	}
	tick.Stop()
	// Wait for the answers until half the backlog is done: probes stuck
	// behind it would not be answered before.
	for backlogDone.Load() < backlogJobs/2 {
		mu.Lock()
		n := len(answered)
		mu.Unlock()
		if n == probes {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	doneBacklog := backlogDoneAtLastProbe
	if len(answered) < probes {
		doneBacklog = backlogDone.Load()
	}
	left := backlogJobs - doneBacklog
	t.Logf("backlog account: %d of %d jobs still without a result when the probes were done", left, backlogJobs)
	if left < backlogJobs/2 {
		t.Errorf("%d of %d probes were not answered while most of the other account's backlog was still queued "+
			"(%d of %d backlog jobs left when the test stopped waiting): the probes waited behind the backlog",
			probes-len(answered), probes, left, backlogJobs)
	}
	var lat []time.Duration
	var late, missing []string
	for i := range probes {
		at, ok := answered[probeID(i)]
		if !ok {
			missing = append(missing, probeID(i))
			continue
		}
		d := at.Sub(published[i])
		lat = append(lat, d)
		if d > bound {
			late = append(late, fmt.Sprintf("%s after %s", probeID(i), d.Round(time.Millisecond)))
		}
	}
	logLatencies(t, "probe result latency", lat, probes)
	if len(late) > 0 {
		t.Logf("%d of %d probes answered later than the specification's %s (a busy machine; make bench measures it): %s",
			len(late), probes, bound, firstFew(late))
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d probes on an idle account got no result while another account worked off a backlog: %s",
			len(missing), probes, firstFew(missing))
	}
}

func probeID(i int) string { return fmt.Sprintf("probe-%03d", i) }

// ---------------------------------------------------------------------------
// 2. Priority within an account

// An urgent job overtakes the normal jobs of its account already queued:
// with 1,000 normal jobs queued on an account that sends one recipient per
// request at 20 requests/s (a backlog of 50 s), 20 urgent jobs published
// one every 100 ms are all answered while most normal jobs are still
// queued. Their latency is logged against the specification's 2 s, which
// the bench's tenants profile measures; a test does not fail on timing.
func TestPriorityUrgentJobsOvertakeQueuedNormalJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("queues 1,000 jobs behind a rate limit")
	}
	const (
		normalJobs = 1_000 // the specification's figure is 10,000; 1,000 is allowed in the test
		urgentJobs = 20
		urgentGap  = 100 * time.Millisecond
		bound      = 2 * time.Second // the specification's bound, reported
	)
	e := newEnv(t)
	e.logLevel = zerolog.ErrorLevel
	rec := newSendRecorder()
	a := sandboxAccount("prio", map[string]any{"batch_limit": 1})
	a.RateLimit.RequestsPerSecond = 20
	cfg := e.config(a)
	cfg.Worker.ShutdownGrace = time.Second

	normal := make([]*job.Job, normalJobs)
	for i := range normal {
		normal[i] = testJob(fmt.Sprintf("normal-%04d", i), "prio", 1)
	}
	publishMany(t, e.js, normal)

	var normalDone atomic.Int64
	var mu sync.Mutex
	answered := map[string]time.Time{}
	events := map[string]result.Event{}
	var normalDoneAtLastUrgent int64
	watchResults(t, e.nc, "talkrelay.results.prio.>", func(ev result.Event, at time.Time) {
		if !strings.HasPrefix(ev.JobID, "urgent-") {
			normalDone.Add(1)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, ok := answered[ev.JobID]; !ok {
			answered[ev.JobID], events[ev.JobID] = at, ev
			if len(answered) == urgentJobs {
				normalDoneAtLastUrgent = normalDone.Load()
			}
		}
	})

	stop := e.startWith(cfg, rec.options())
	defer stopAll(t, []func() error{stop})
	waitFor(t, 20*time.Second, "the normal jobs being sent", func() bool { return normalDone.Load() >= 1 })

	sample := urgentJobJSON(t, testJob("urgent-xx", "prio", 1))
	if _, err := job.Decode(sample); err != nil {
		t.Logf("note: job.Decode rejects a job with \"priority\":\"urgent\" on this code (%v); "+
			"expected until the job's priority field lands, and the worker rejects such a job as invalid_job", err)
	}
	published := make([]time.Time, urgentJobs)
	for i := range urgentJobs {
		j := testJob(urgentID(i), "prio", 1)
		published[i] = time.Now()
		e.publishRaw(streams.JobSubjectFor("prio", string(job.AlimTalk), true), urgentJobJSON(t, j), j.ID)
		time.Sleep(urgentGap)
	}
	// Wait until the urgent jobs are answered or most normal jobs are done:
	// urgent jobs queued behind the normal ones would not be answered
	// before.
	for normalDone.Load() < normalJobs*4/5 {
		mu.Lock()
		n := len(answered)
		mu.Unlock()
		if n == urgentJobs {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	// Precondition: normal jobs were still queued when the urgent ones
	// were done (or, if some never were, when the test stopped waiting).
	doneNormal := normalDoneAtLastUrgent
	if len(answered) < urgentJobs {
		doneNormal = normalDone.Load()
	}
	t.Logf("normal jobs: %d of %d answered when the urgent jobs were done", doneNormal, normalJobs)
	if queued := normalJobs - doneNormal; queued < normalJobs/5 {
		t.Errorf("the urgent jobs did not overtake the queued normal jobs: %d of %d urgent jobs answered when only %d of %d normal jobs were left",
			len(answered), urgentJobs, queued, normalJobs)
	}

	var lat []time.Duration
	var late, missing, wrong []string
	for i := range urgentJobs {
		id := urgentID(i)
		at, ok := answered[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		d := at.Sub(published[i])
		lat = append(lat, d)
		if d > bound {
			late = append(late, fmt.Sprintf("%s after %s", id, d.Round(time.Millisecond)))
		}
		if ev := events[id]; ev.Status != result.Accepted {
			msg := fmt.Sprintf("%s: %s/%s %q", id, ev.Status, ev.Reason, ev.Message)
			if ev.Reason == result.ReasonInvalidJob && strings.Contains(ev.Message, "priority") {
				msg += " (the job schema does not know \"priority\" yet: expected until the priority field lands)"
			}
			wrong = append(wrong, msg)
		}
	}
	logLatencies(t, "urgent result latency", lat, urgentJobs)
	if len(late) > 0 {
		t.Logf("%d of %d urgent jobs answered later than the specification's %s (a busy machine; make bench measures it): %s",
			len(late), urgentJobs, bound, firstFew(late))
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d urgent jobs got no result while the normal jobs of their account were queued: %s",
			len(missing), urgentJobs, firstFew(missing))
	}
	if len(wrong) > 0 {
		t.Errorf("%d urgent jobs were not accepted: %s", len(wrong), firstFew(wrong))
	}
}

func urgentID(i int) string { return fmt.Sprintf("urgent-%02d", i) }

// urgentJobJSON is j's wire form with "priority":"urgent". job.Job has no
// priority field yet (it is being added in parallel), so the field is
// added to the JSON here.
func urgentJobJSON(t *testing.T, j *job.Job) []byte {
	t.Helper()
	data, err := j.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["priority"] = json.RawMessage(`"urgent"`)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------------------
// 3. Keep-alive of buffered jobs

// Every job a replica holds, whether it is being sent, waits in the
// worker's queues or still sits in the NATS client's buffer, is kept alive:
// with two replicas that pull far more jobs than their provider can take
// within the ack wait, no job is redelivered and no recipient is sent twice.
func TestKeepAliveBufferedJobsAreNeverRedelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 10 s")
	}
	t.Parallel()
	const (
		jobs    = 40
		ackWait = 2 * time.Second
	)
	e := newEnv(t)
	rec := newSendRecorder()
	mkcfg := func() *config.Config {
		// One request at a time, one recipient per request, 500 ms each: a
		// replica sends 2 jobs/s, 4 per ack wait.
		a := sandboxAccount("slow", map[string]any{"latency": "500ms", "batch_limit": 1})
		a.MaxConcurrency = 1
		cfg := e.config(a)
		cfg.Worker.AckWait = ackWait
		// Twice the 4 jobs the provider takes per ack wait, and the NATS
		// client buffers as many again. The specification suggests 64, but
		// today's worker queues up to pull_batch jobs in a channel of its
		// own, where it does keep them alive: with 40 jobs and 64 nothing
		// overflows into the client's buffer and the test cannot fail
		// today. 8 (with one decoder) overflows it, and keeps the test
		// short once every held job is kept alive.
		cfg.Worker.PullBatch = 8
		cfg.Worker.Decoders = 1
		return cfg
	}
	stops := []func() error{e.startWith(mkcfg(), rec.options()), e.startWith(mkcfg(), rec.options())}
	defer stopAll(t, stops)

	// Redelivered messages are counted by the server only until they are
	// acknowledged: sample the count while the jobs are worked off.
	var maxRedelivered atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(t.Context())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for sampleCtx.Err() == nil {
			if infos, err := jobConsumers(sampleCtx, e.js); err == nil {
				var n int64
				for _, ci := range infos {
					n += int64(ci.NumRedelivered)
				}
				if n > maxRedelivered.Load() {
					maxRedelivered.Store(n)
				}
			}
			select {
			case <-sampleCtx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	all := make([]*job.Job, jobs)
	for i := range all {
		all[i] = testJob(fmt.Sprintf("held-%02d", i), "slow", 1)
	}
	publishMany(t, e.js, all)
	e.results(jobs, 90*time.Second)
	took := time.Since(start)
	waitFor(t, 30*time.Second, "jobs stream empty (all acked)", func() bool { return e.streamCount(streams.JobsStream) == 0 })
	stopSampling()
	<-sampled

	// Precondition: jobs waited in the replicas for several ack waits.
	t.Logf("%d jobs took %s with an ack wait of %s", jobs, took.Round(time.Millisecond), ackWait)
	if took < 3*ackWait {
		t.Fatalf("precondition not reached: the %d jobs took only %s, less than 3 ack waits (%s); no job had to be kept alive",
			jobs, took, 3*ackWait)
	}

	infos, err := jobConsumers(t.Context(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	var deliveries uint64
	var names []string
	for _, ci := range infos {
		deliveries += ci.Delivered.Consumer
		names = append(names, fmt.Sprintf("%s: %d deliveries", ci.Name, ci.Delivered.Consumer))
	}
	t.Logf("consumers of %s: %s; most redelivered-and-unacked seen at once: %d", streams.JobsStream, strings.Join(names, ", "), maxRedelivered.Load())
	if resent := rec.resent(); len(resent) > 0 {
		t.Errorf("%d recipients were sent to the provider more than once: %s", len(resent), firstFew(resent))
	}
	if n := maxRedelivered.Load(); n > 0 || deliveries != jobs {
		t.Errorf("jobs were redelivered although a replica held them: up to %d redelivered at once, %d deliveries for %d jobs",
			n, deliveries, jobs)
	}
	if n := e.streamCount(streams.ResultsStream); n != jobs {
		t.Errorf("%d results stored for %d single-recipient jobs", n, jobs)
	}
}

// jobConsumers returns the info of every consumer of the jobs stream: one
// shared consumer today, one per account and priority lane after the
// intake rewrite.
func jobConsumers(ctx context.Context, js jetstream.JetStream) ([]*jetstream.ConsumerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		return nil, err
	}
	l := s.ListConsumers(ctx)
	var out []*jetstream.ConsumerInfo
	for ci := range l.Info() {
		out = append(out, ci)
	}
	return out, l.Err()
}

// ---------------------------------------------------------------------------
// 4. Idempotency that survives restarts

// A job published again under the same id after NATS restarted (JetStream's
// work-queue stream has forgotten the id, so it accepts it) is not sent
// again and gets no second result.
func TestIdempotentAfterNATSRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts NATS")
	}
	t.Parallel()
	e := newEnv(t)
	rec := newSendRecorder()
	e.startWith(e.config(sandboxAccount("acct", nil)), rec.options())
	dup := testJob("once-only", "acct", 2)
	first := publishAck(t, e.js, dup)
	e.results(2, 30*time.Second)
	waitFor(t, 10*time.Second, "jobs stream empty (the job acked)", func() bool { return e.streamCount(streams.JobsStream) == 0 })

	e.srv.Restart()
	requireAccepted(t, republish(t, e.js, dup), first, "after a NATS restart")
	e.awaitProbe(testJob("probe-after-dup", "acct", 1))
	checkSentOnce(t, e, rec, dup)
}

// The same across a worker restart: the first worker's memory is gone too.
// (NATS is restarted as well, or JetStream itself would drop the
// republished id as a duplicate and the worker would never see it.)
func TestIdempotentAfterWorkerAndNATSRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts NATS and the worker")
	}
	t.Parallel()
	e := newEnv(t)
	rec := newSendRecorder()
	cfg := func() *config.Config { return e.config(sandboxAccount("acct", nil)) }
	stop := e.startWith(cfg(), rec.options())
	dup := testJob("once-only", "acct", 2)
	first := publishAck(t, e.js, dup)
	e.results(2, 30*time.Second)
	waitFor(t, 10*time.Second, "jobs stream empty (the job acked)", func() bool { return e.streamCount(streams.JobsStream) == 0 })

	if err := stop(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	e.srv.Restart()
	e.startWith(cfg(), rec.options())
	requireAccepted(t, republish(t, e.js, dup), first, "after a worker and NATS restart")
	e.awaitProbe(testJob("probe-after-dup", "acct", 1))
	checkSentOnce(t, e, rec, dup)
}

// The same in a 3-node cluster with R3 streams, after the jobs stream's
// leader was shut down:
//
//   - leader_stays_down: the job is republished while the old leader is
//     down. The new leader still remembers the id (every replica keeps
//     the de-duplication window in memory), so JetStream drops the
//     republished job itself; this variant checks that nothing is sent
//     again across the failover, and does not depend on the worker.
//   - rolling_restart: the leader, then each other node in turn, is shut
//     down and restarted, as in a rolling upgrade. A restarted node
//     rebuilds its de-duplication window from the messages it stores, and
//     the work queue stores none of the acknowledged job: the cluster
//     accepts the republished job, and only the worker can refuse to send
//     it again.
func TestIdempotentAcrossStreamLeaderFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 3-node NATS clusters")
	}
	t.Parallel()
	for _, rolling := range []bool{false, true} {
		name := "leader_stays_down"
		if rolling {
			name = "rolling_restart"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testIdempotentFailover(t, rolling)
		})
	}
}

func testIdempotentFailover(t *testing.T, rolling bool) {
	c := natstest.RunCluster(t, 3)
	nc, js := c.JetStream(t)
	c.WaitJetStream(t, js, 30*time.Second)
	sc := streams.DefaultConfig()
	sc.Replicas = 3
	retryFor(t, 30*time.Second, "create the R3 streams", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return streams.Ensure(ctx, js, sc)
	})

	e := &env{t: t, srv: c.Servers[0], nc: nc, js: js, clients: map[string]*sandbox.Client{}, logLevel: zerolog.ErrorLevel}
	rec := newSendRecorder()
	cfg := e.config(sandboxAccount("acct", nil))
	cfg.NATS.URL = c.ClientURLs()
	cfg.Streams.Replicas = 3
	e.startWith(cfg, rec.options())

	dup := testJob("once-only", "acct", 2)
	first := publishAck(t, js, dup)
	e.results(2, 30*time.Second)
	waitFor(t, 10*time.Second, "jobs stream empty (the job acked)", func() bool { return e.streamCount(streams.JobsStream) == 0 })

	leader := streamLeader(t, js, "")
	t.Logf("shutting down %s, leader of %s", leader, streams.JobsStream)
	old := c.Server(leader)
	if old == nil {
		t.Fatalf("stream leader %q is not a node of the cluster", leader)
	}
	old.Stop()
	t.Logf("new leader: %s", streamLeader(t, js, leader))
	if rolling {
		old.Restart()
		waitStreamCurrent(t, js)
		for _, s := range c.Servers {
			if s == old {
				continue
			}
			name := s.Name()
			s.Stop()
			streamLeader(t, js, name)
			s.Restart()
			waitStreamCurrent(t, js)
		}
		t.Logf("rolling restart done; leader: %s", streamLeader(t, js, ""))
	}

	ack := republish(t, js, dup)
	t.Logf("republished %s: stream sequence %d, duplicate %v (first published as %d)", dup.ID, ack.Sequence, ack.Duplicate, first.Sequence)
	if rolling {
		requireAccepted(t, ack, first, "after a rolling restart of the cluster")
	}
	e.awaitProbe(testJob("probe-after-dup", "acct", 1))
	checkSentOnce(t, e, rec, dup)
}

// streamLeader waits until the jobs stream has a leader other than not
// and returns its name.
func streamLeader(t *testing.T, js jetstream.JetStream, not string) string {
	t.Helper()
	var leader string
	retryFor(t, 30*time.Second, "a leader of the jobs stream", func() error {
		info, err := streamInfo(t.Context(), js, streams.JobsStream)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == not {
			return fmt.Errorf("cluster info %+v", info.Cluster)
		}
		leader = info.Cluster.Leader
		return nil
	})
	return leader
}

// waitStreamCurrent waits until the jobs stream has a leader and every
// replica is online and current.
func waitStreamCurrent(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	retryFor(t, 30*time.Second, "all replicas of the jobs stream current", func() error {
		info, err := streamInfo(t.Context(), js, streams.JobsStream)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return errors.New("no leader")
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("replica %s: current %v, offline %v", r.Name, r.Current, r.Offline)
			}
		}
		return nil
	})
}

// publishAck publishes j under its id and returns JetStream's ack.
func publishAck(t *testing.T, js jetstream.JetStream, j *job.Job) *jetstream.PubAck {
	t.Helper()
	data, err := j.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(t.Context(), streams.JobSubject(j.Account, string(j.Kind)), data, jetstream.WithMsgID(j.ID))
	if err != nil {
		t.Fatalf("publish %s: %v", j.ID, err)
	}
	return ack
}

// republish publishes j again under its id, retrying while NATS is away.
// (An attempt that timed out may still have been stored from the client's
// reconnect buffer; the next attempt's ack then names that copy.)
func republish(t *testing.T, js jetstream.JetStream, j *job.Job) *jetstream.PubAck {
	t.Helper()
	data, err := j.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var ack *jetstream.PubAck
	retryFor(t, 30*time.Second, "publish "+j.ID+" again", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		ack, err = js.Publish(ctx, streams.JobSubject(j.Account, string(j.Kind)), data, jetstream.WithMsgID(j.ID))
		return err
	})
	return ack
}

// requireAccepted fails the test unless JetStream stored the republished
// job as a new message (a duplicate of the first publish would never reach
// a worker, and the test would not test it).
func requireAccepted(t *testing.T, ack, first *jetstream.PubAck, when string) {
	t.Helper()
	if ack.Duplicate && ack.Sequence == first.Sequence {
		t.Fatalf("precondition not reached: %s, JetStream still dropped the republished job as a duplicate of sequence %d itself, "+
			"so no worker sees it; this test needs a stream that has forgotten the id", when, first.Sequence)
	}
}

// awaitProbe publishes probe, a job published after the duplicate, and
// waits for its results and for the jobs stream to be empty: by then a
// worker has handled the duplicate too.
func (e *env) awaitProbe(probe *job.Job) {
	e.t.Helper()
	data, err := probe.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	retryFor(e.t, 30*time.Second, "publish "+probe.ID, func() error {
		ctx, cancel := context.WithTimeout(e.t.Context(), 2*time.Second)
		defer cancel()
		_, err := e.js.Publish(ctx, streams.JobSubject(probe.Account, string(probe.Kind)), data, jetstream.WithMsgID(probe.ID))
		return err
	})
	filter := streams.JobResultsFilter(probe.Account, probe.ID)
	waitFor(e.t, 60*time.Second, "the probe's results", func() bool {
		n, err := e.subjectCount(streams.ResultsStream, filter)
		return err == nil && n >= uint64(len(probe.Recipients))
	})
	waitFor(e.t, 30*time.Second, "jobs stream empty (duplicate and probe handled)", func() bool {
		info, err := streamInfo(e.t.Context(), e.js, streams.JobsStream)
		return err == nil && info.State.Msgs == 0
	})
	// Results are stored before a job is acknowledged, so nothing more can
	// come; a moment for an asynchronous straggler all the same.
	time.Sleep(500 * time.Millisecond)
}

// checkSentOnce checks that every recipient of dup went to the provider
// once and has exactly one result.
func checkSentOnce(t *testing.T, e *env, rec *sendRecorder, dup *job.Job) {
	t.Helper()
	for i := range dup.Recipients {
		if n := rec.sent(dup.ID, i); n != 1 {
			t.Errorf("recipient %d of %s went to the provider %d times, want once: the republished job was sent again", i, dup.ID, n)
		}
	}
	n, err := e.subjectCount(streams.ResultsStream, streams.JobResultsFilter(dup.Account, dup.ID))
	if err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(dup.Recipients)) {
		t.Errorf("%d results stored for the %d recipients of %s, want one each: the republished job got results of its own",
			n, len(dup.Recipients), dup.ID)
	}
}

// ---------------------------------------------------------------------------
// Helpers

// sendRecorder wraps the sandbox provider and counts, per job id and
// recipient index, how many provider requests carried the recipient.
type sendRecorder struct {
	mu    sync.Mutex
	calls map[string]int // "<job id>#<index>"
	reqs  map[string]int // by account
}

func newSendRecorder() *sendRecorder {
	return &sendRecorder{calls: map[string]int{}, reqs: map[string]int{}}
}

// options returns worker options whose sandbox provider reports to r.
func (r *sendRecorder) options() worker.Options {
	return worker.Options{Providers: map[string]providers.Factory{"sandbox": func(s providers.Spec) (providers.Provider, error) {
		p, err := sandbox.New(s)
		if err != nil {
			return nil, err
		}
		return &recordingProvider{Provider: p, rec: r, account: s.Account}, nil
	}}}
}

func (r *sendRecorder) sent(jobID string, index int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[fmt.Sprintf("%s#%d", jobID, index)]
}

func (r *sendRecorder) requests(account string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[account]
}

// resent lists the recipients sent more than once, with their counts.
func (r *sendRecorder) resent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, n := range r.calls {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	sort.Strings(out)
	return out
}

type recordingProvider struct {
	providers.Provider
	rec     *sendRecorder
	account string
}

func (p *recordingProvider) Send(ctx context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	p.rec.mu.Lock()
	p.rec.reqs[p.account]++
	for _, m := range b.Messages {
		p.rec.calls[fmt.Sprintf("%s#%d", m.Job.ID, m.Index)]++
	}
	p.rec.mu.Unlock()
	return p.Provider.Send(ctx, b)
}

// publishMany publishes jobs to their subjects under their ids, in chunks
// of asynchronous publishes.
func publishMany(t *testing.T, js jetstream.JetStream, jobs []*job.Job) {
	t.Helper()
	for chunk := range slices.Chunk(jobs, 500) {
		futures := make([]jetstream.PubAckFuture, 0, len(chunk))
		for _, j := range chunk {
			data, err := j.Encode()
			if err != nil {
				t.Fatal(err)
			}
			f, err := js.PublishAsync(streams.JobSubject(j.Account, string(j.Kind)), data, jetstream.WithMsgID(j.ID))
			if err != nil {
				t.Fatalf("publish %s: %v", j.ID, err)
			}
			futures = append(futures, f)
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			t.Fatal("publishing the jobs took more than 30s")
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				t.Fatalf("publish: %v", err)
			}
		}
	}
}

// watchResults calls fn, with the time of arrival, for every result event
// published on subjects matching filter from now on (a core subscription:
// it sees events as they are stored).
func watchResults(t *testing.T, nc *nats.Conn, filter string, fn func(result.Event, time.Time)) {
	t.Helper()
	sub, err := nc.Subscribe(filter, func(m *nats.Msg) {
		at := time.Now()
		var ev result.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Errorf("result on %s: %v", m.Subject, err)
			return
		}
		fn(ev, at)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

// stopAll stops workers concurrently (each may take its shutdown grace).
func stopAll(t *testing.T, stops []func() error) {
	var wg sync.WaitGroup
	for _, stop := range stops {
		wg.Go(func() {
			if err := stop(); err != nil {
				t.Logf("worker stopped with: %v", err)
			}
		})
	}
	wg.Wait()
}

func streamInfo(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// subjectCount returns how many messages of stream match filter.
func (e *env) subjectCount(stream, filter string) (uint64, error) {
	ctx, cancel := context.WithTimeout(e.t.Context(), 2*time.Second)
	defer cancel()
	return streams.SubjectCount(ctx, e.js, stream, filter)
}

// retryFor calls f until it succeeds, failing the test after timeout.
func retryFor(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// logLatencies logs p50, p99 and max of lat, of want expected.
func logLatencies(t *testing.T, what string, lat []time.Duration, want int) {
	t.Helper()
	if len(lat) == 0 {
		t.Logf("%s: no results of %d", what, want)
		return
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	t.Logf("%s (%d of %d answered): p50 %s, p99 %s, max %s", what, len(s), want,
		q(0.50).Round(time.Millisecond), q(0.99).Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

func firstFew(xs []string) string {
	const n = 5
	if len(xs) <= n {
		return strings.Join(xs, "; ")
	}
	return strings.Join(xs[:n], "; ") + fmt.Sprintf("; and %d more", len(xs)-n)
}
