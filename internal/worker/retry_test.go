package worker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// scripted is an adapter whose answers a test scripts per phone number and
// attempt; it records every call. (The real adapters are tested against
// their providers' HTTP fakes; this one tests the worker's retry logic.)
type scripted struct {
	limit   int
	answer  func(phone string, attempt int) providers.Outcome
	resolve func(q providers.Query) providers.Outcome // nil: not a Resolver
	// notMade, if set, tells which lookups the resolver does not get to
	// (a *providers.LookupError marks them).
	notMade func(q providers.Query) bool

	mu      sync.Mutex
	sends   []scriptedCall
	lookups []scriptedCall
}

type scriptedCall struct {
	at       time.Time
	phones   []string
	attempts []int
}

func (s *scripted) MaxBatch() int                  { return s.limit }
func (s *scripted) Check(*providers.Message) error { return nil }

func (s *scripted) Send(_ context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	c := scriptedCall{at: time.Now()}
	out := make([]providers.Outcome, len(b.Messages))
	for i, m := range b.Messages {
		c.phones = append(c.phones, m.Recipient.Phone)
		c.attempts = append(c.attempts, m.Attempt)
		out[i] = s.answer(m.Recipient.Phone, m.Attempt)
	}
	s.mu.Lock()
	s.sends = append(s.sends, c)
	s.mu.Unlock()
	return out, nil
}

func (s *scripted) calls() []scriptedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]scriptedCall(nil), s.sends...)
}

// sentTo lists the attempts made for phone, with their times.
func (s *scripted) sentTo(phone string) (attempts []int, at []time.Time) {
	for _, c := range s.calls() {
		for i, p := range c.phones {
			if p == phone {
				attempts = append(attempts, c.attempts[i])
				at = append(at, c.at)
			}
		}
	}
	return attempts, at
}

type scriptedResolver struct{ *scripted }

func (s scriptedResolver) Resolve(_ context.Context, qs []providers.Query) ([]providers.Outcome, error) {
	c := scriptedCall{at: time.Now()}
	out := make([]providers.Outcome, len(qs))
	var partial *providers.LookupError
	for i, q := range qs {
		if s.notMade != nil && s.notMade(q) {
			if partial == nil {
				partial = &providers.LookupError{NotMade: make([]bool, len(qs)), Err: fmt.Errorf("lookup not made")}
			}
			partial.NotMade[i] = true
			out[i] = providers.Outcome{Class: providers.Unknown}
			continue
		}
		c.phones = append(c.phones, q.Message.Recipient.Phone)
		out[i] = s.resolve(q)
	}
	s.mu.Lock()
	s.lookups = append(s.lookups, c)
	s.mu.Unlock()
	if partial != nil {
		return out, partial
	}
	return out, nil
}

// startScripted runs a worker whose account "acct" is s, with the retry
// policy of fastRetry(attempts).
func (e *env) startScripted(s *scripted, attempts int, edit ...func(*config.Config)) func() error {
	a := config.Account{Name: "acct", Provider: "scripted", MaxConcurrency: 4, RequestTimeout: 5 * time.Second, Retry: fastRetry(attempts)}
	cfg := e.config(a)
	for _, f := range edit {
		f(cfg)
	}
	var p providers.Provider = s
	if s.resolve != nil {
		p = scriptedResolver{s}
	}
	return e.startWith(cfg, worker.Options{Providers: map[string]providers.Factory{
		"scripted": func(providers.Spec) (providers.Provider, error) { return p, nil },
	}})
}

var (
	accepted  = providers.Outcome{Class: providers.Accepted, Code: "OK", CodeName: "ok"}
	transient = providers.Outcome{Class: providers.Retryable, Code: "B001", CodeName: "RelayFailed", Message: "relay failed"}
)

func byIndex(evs []result.Event) map[int]result.Event {
	m := map[int]result.Event{}
	for _, ev := range evs {
		m[ev.RecipientIndex] = ev
	}
	return m
}

func TestRetriesOnlyTheRetryableRecipientsOfABatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.logLevel = zerolog.DebugLevel // every debug line of a delivery is written once here
	j := testJob("partial", "acct", 5)
	flaky := j.Recipients[2].Phone
	s := &scripted{limit: 100, answer: func(phone string, attempt int) providers.Outcome {
		if phone == flaky && attempt == 1 {
			return transient
		}
		return accepted
	}}
	e.publishJob(j)
	e.startScripted(s, 3)
	evs := byIndex(e.results(5, 30*time.Second))
	for i := range 5 {
		wantAttempt := 1
		if i == 2 {
			wantAttempt = 2
		}
		if ev := evs[i]; ev.Status != result.Accepted || ev.Attempt != wantAttempt {
			t.Errorf("recipient %d: %s after %d attempts, want accepted after %d", i, ev.Status, ev.Attempt, wantAttempt)
		}
	}
	calls := s.calls()
	if len(calls) != 2 || len(calls[0].phones) != 5 || len(calls[1].phones) != 1 || calls[1].phones[0] != flaky || calls[1].attempts[0] != 2 {
		t.Fatalf("provider calls %+v; want the batch of 5, then only the retryable recipient at attempt 2", calls)
	}
	waitFor(t, 10*time.Second, "jobs stream empty", func() bool { return e.streamCount(streams.JobsStream) == 0 })
	if n := e.streamCount(streams.DLQStream); n != 0 {
		t.Errorf("%d dead letters for a job whose recipients all got through", n)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("retry-after", "acct", 1)
	s := &scripted{limit: 100, answer: func(_ string, attempt int) providers.Outcome {
		if attempt == 1 {
			return providers.Outcome{Class: providers.Retryable, Reason: result.ReasonRateLimited, Code: "429", RetryAfter: 3 * time.Second}
		}
		return accepted
	}}
	e.publishJob(j)
	e.startScripted(s, 3) // backoff 1s: Retry-After must win
	if ev := e.results(1, 30*time.Second)[0]; ev.Status != result.Accepted || ev.Attempt != 2 {
		t.Fatalf("result %s after %d attempts, want accepted after 2", ev.Status, ev.Attempt)
	}
	_, at := s.sentTo(j.Recipients[0].Phone)
	if len(at) != 2 {
		t.Fatalf("%d attempts", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 3*time.Second {
		t.Errorf("second attempt %s after the first; Retry-After asked for 3s", gap)
	}
}

func TestBackoffBetweenAttemptsAndMaxAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("always-failing", "acct", 1)
	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return transient }}
	e.publishJob(j)
	e.startScripted(s, 3)
	ev := e.results(1, 30*time.Second)[0]
	if ev.Status != result.Failed || !ev.Retryable || ev.Attempt != 3 || ev.Code != "B001" || !strings.Contains(ev.Detail, "3 attempts") {
		t.Fatalf("result %+v; want failed, retryable, after 3 attempts with the last code", ev)
	}
	attempts, at := s.sentTo(j.Recipients[0].Phone)
	if fmt.Sprint(attempts) != "[1 2 3]" {
		t.Fatalf("attempts %v, want [1 2 3]", attempts)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 900*time.Millisecond {
			t.Errorf("attempt %d only %s after the previous one; the backoff is 1s", i+1, gap)
		}
	}
	dead := readStream(t, e.js, streams.DLQStream, 1, 10*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	if h := dead[0].Headers(); h.Get(streams.HeaderJobID) != j.ID || !strings.Contains(h.Get(streams.HeaderReason), "3 attempts") {
		t.Errorf("dead letter headers %v", h)
	}
}

func TestDeadlineEndsRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("deadline", "acct", 2)
	deadline := time.Now().Add(2500 * time.Millisecond)
	j.Deadline = &deadline
	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return transient }}
	e.publishJob(j)
	e.startScripted(s, 50)
	for _, ev := range e.results(2, 30*time.Second) {
		if ev.Status != result.Failed || !strings.Contains(ev.Detail, "deadline") || ev.Code != "B001" {
			t.Errorf("result %+v; want failed at the deadline with the last code", ev)
		}
	}
	for _, c := range s.calls() {
		if c.at.After(deadline) {
			t.Errorf("provider called at %s, after the deadline %s", c.at, deadline)
		}
	}
}

func TestUnknownOutcomeIsLookedUpNotResent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("unknown", "acct", 2)
	timeout := providers.Outcome{Class: providers.Unknown, Reason: result.ReasonTimeout, Message: "timeout after the request was written"}
	s := &scripted{limit: 100,
		answer: func(_ string, attempt int) providers.Outcome {
			if attempt == 1 {
				return timeout
			}
			return accepted
		},
		resolve: func(q providers.Query) providers.Outcome {
			if q.Message.Index == 0 { // the provider took it
				return providers.Outcome{Class: providers.Accepted, Code: "OK", RequestID: "found-1"}
			}
			return providers.Outcome{Class: providers.Retryable, Message: "never taken"} // proven untaken
		}}
	e.publishJob(j)
	e.startScripted(s, 3)
	evs := byIndex(e.results(2, 30*time.Second))
	if ev := evs[0]; ev.Status != result.Accepted || ev.Attempt != 1 || ev.ProviderRequestID != "found-1" {
		t.Errorf("taken message: %+v; want accepted at attempt 1 from the lookup", ev)
	}
	if ev := evs[1]; ev.Status != result.Accepted || ev.Attempt != 2 {
		t.Errorf("untaken message: %+v; want sent again and accepted at attempt 2", ev)
	}
	if attempts, _ := s.sentTo(j.Recipients[0].Phone); len(attempts) != 1 {
		t.Errorf("the message the provider took was sent %d times", len(attempts))
	}
}

func TestUnknownStaysUnknownWhenLookupsCannotTell(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("still-unknown", "acct", 1)
	s := &scripted{limit: 100,
		answer:  func(string, int) providers.Outcome { return providers.Outcome{Class: providers.Unknown, Code: "100"} },
		resolve: func(providers.Query) providers.Outcome { return providers.Outcome{Class: providers.Unknown} }}
	e.publishJob(j)
	e.startScripted(s, 3) // fastRetry: 2 lookups
	ev := e.results(1, 30*time.Second)[0]
	if ev.Status != result.Unknown || ev.Code != "100" || !strings.Contains(ev.Detail, "2 lookups") {
		t.Fatalf("result %+v; want unknown after 2 lookups, with the provider's code", ev)
	}
	if len(s.calls()) != 1 {
		t.Errorf("%d sends; an unknown outcome must never be resent blindly", len(s.calls()))
	}
}

func TestPendingRetrySurvivesWorkerRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("restart", "acct", 1)
	s := &scripted{limit: 100, answer: func(_ string, attempt int) providers.Outcome {
		if attempt == 1 {
			return providers.Outcome{Class: providers.Retryable, RetryAfter: 3 * time.Second}
		}
		return accepted
	}}
	e.publishJob(j)
	stop := e.startScripted(s, 3)
	waitFor(t, 10*time.Second, "the first attempt settled", func() bool {
		return len(s.calls()) == 1 && e.streamCount(streams.JobsStream) == 1 // the job acked, the retry scheduled
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.startScripted(s, 3)
	if ev := e.results(1, 30*time.Second)[0]; ev.Status != result.Accepted || ev.Attempt != 2 {
		t.Fatalf("after a restart: %+v; want accepted at attempt 2", ev)
	}
}

func TestPoisonJobIsDeadLetteredAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("poison", "acct", 2)
	crash := j.Recipients[0].Phone
	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return accepted }}
	e.publishJob(j)
	healthy := testJob("healthy", "acct", 1)
	healthy.Recipients[0].Phone = "01099999999"
	e.publishJob(healthy)
	a := config.Account{Name: "acct", Provider: "crashing", MaxConcurrency: 4, RequestTimeout: 5 * time.Second, Retry: fastRetry(3)}
	cfg := e.config(a)
	cfg.Worker.MaxDeliver = 2
	e.startWith(cfg, worker.Options{Providers: map[string]providers.Factory{
		"crashing": func(providers.Spec) (providers.Provider, error) { return crashingCheck{s, crash}, nil },
	}})
	evs := e.results(3, 30*time.Second)
	got := countBy(evs, func(ev result.Event) string { return fmt.Sprintf("%s/%s/%s", ev.JobID, ev.Status, ev.Reason) })
	if got["poison/failed/poison"] != 2 || got["healthy/accepted/ok"] != 1 {
		t.Fatalf("results %v; want both recipients of the poison job failed as poison and the healthy job accepted", got)
	}
	dead := readStream(t, e.js, streams.DLQStream, 1, 10*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	if h := dead[0].Headers(); h.Get(streams.HeaderJobID) != "poison" || !strings.HasPrefix(h.Get(streams.HeaderReason), "poison: delivered 2 times") {
		t.Errorf("dead letter headers %v", h)
	}
	waitFor(t, 10*time.Second, "jobs stream empty (poison deleted)", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}

// crashingCheck panics in Check for one phone number: a handler that
// crashes on a job.
type crashingCheck struct {
	*scripted
	phone string
}

func (c crashingCheck) Check(m *providers.Message) error {
	if m.Recipient.Phone == c.phone {
		panic("check crashed")
	}
	return nil
}

// Jobs waiting in this worker's buffer longer than the ack wait must not
// be redelivered and sent a second time.
func TestQueuedJobsAreKeptAlive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := &scripted{limit: 1, answer: func(string, int) providers.Outcome {
		time.Sleep(150 * time.Millisecond) // one at a time: 30 jobs take ~4.5s
		return accepted
	}}
	for i := range 30 {
		j := testJob(fmt.Sprintf("queued-%02d", i), "acct", 1)
		j.Recipients[0].Phone = fmt.Sprintf("010555%05d", i)
		e.publishJob(j)
	}
	e.startScripted(s, 3, func(c *config.Config) {
		c.Worker.AckWait = 1500 * time.Millisecond
		c.Accounts[0].MaxConcurrency = 1
		c.Worker.Linger = 0
	})
	e.results(30, 60*time.Second)
	sent := map[string]int{}
	for _, c := range s.calls() {
		for _, p := range c.phones {
			sent[p]++
		}
	}
	for p, n := range sent {
		if n != 1 {
			t.Errorf("%s sent %d times", p, n)
		}
	}
	if len(sent) != 30 {
		t.Errorf("%d recipients sent, want 30", len(sent))
	}
}

// TestUnstoredSendRecordIsNoAttempt: while JetStream does not store send
// records (as in a cluster's leader election: "no response from stream"),
// the provider is never called, and those tries are no attempts: once the
// records are stored again, the recipient is sent at attempt 1 although
// more tries than max_attempts failed before.
func TestUnstoredSendRecordIsNoAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return accepted }}
	e.startScripted(s, 2)

	// The bucket's stream stops taking batch records (<job>.b.<batch>) but
	// still takes envelope records (<job>.e.…), so tries fail before the
	// call and are scheduled again.
	kvStream := "KV_" + streams.SendsBucket
	st, err := e.js.Stream(t.Context(), kvStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	subjects := cfg.Subjects
	cfg.Subjects = []string{"$KV." + streams.SendsBucket + ".*.e.>"}
	if _, err := e.js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	e.publishJob(testJob("unstored", "acct", 1))
	waitFor(t, 30*time.Second, "three tries without a stored send record, or a result", func() bool {
		envs, err := e.subjectCount(kvStream, "$KV."+streams.SendsBucket+".*.e.>")
		return err == nil && envs >= 3 || e.streamCount(streams.ResultsStream) > 0
	})
	cfg.Subjects = subjects
	if _, err := e.js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	ev := e.results(1, 30*time.Second)[0]
	if ev.Status != result.Accepted || ev.Attempt != 1 {
		t.Errorf("result %s at attempt %d (%s); want accepted at attempt 1", ev.Status, ev.Attempt, ev.Detail)
	}
	if calls := s.calls(); len(calls) != 1 || calls[0].attempts[0] != 1 {
		t.Errorf("provider calls %+v; want one, at attempt 1", calls)
	}
}

// TestLookupNotMadeIsNotCounted: the resolver answers recipient 0's lookup
// but does not get to recipient 1's twice (as when its context ends first);
// those are not counted, so recipient 1 still gets its max_lookups (2)
// lookups, and the third finds it accepted.
func TestLookupNotMadeIsNotCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("not-made", "acct", 2)
	var mu sync.Mutex
	skipped := 0
	s := &scripted{limit: 100,
		answer: func(string, int) providers.Outcome { return providers.Outcome{Class: providers.Unknown, Code: "100"} },
		resolve: func(providers.Query) providers.Outcome {
			return providers.Outcome{Class: providers.Accepted, Code: "OK"}
		},
		notMade: func(q providers.Query) bool {
			mu.Lock()
			defer mu.Unlock()
			if q.Message.Index == 1 && skipped < 2 {
				skipped++
				return true
			}
			return false
		}}
	e.publishJob(j)
	e.startScripted(s, 3) // fastRetry: 2 lookups
	for i, ev := range byIndex(e.results(2, 30*time.Second)) {
		if ev.Status != result.Accepted {
			t.Errorf("recipient %d: %s (%s); want accepted by a lookup", i, ev.Status, ev.Detail)
		}
	}
}
