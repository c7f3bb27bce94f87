package worker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// settableClock is a clock the test sets.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *settableClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// nightChecked is a scripted adapter whose Check refuses ad FriendTalk in
// Kakao's ad night by the test's clock, as the NHN and Kakao adapters do
// by theirs.
type nightChecked struct {
	*scripted
	clock *settableClock
}

func (n nightChecked) Check(m *providers.Message) error {
	if m.Job.Ad && m.Job.Kind == job.FriendTalk && msgcheck.AdNight(n.clock.Now()) {
		return errors.New("ad: refused 20:50-08:00 KST")
	}
	return nil
}

// nightEvening is 20:49:59 KST two days from now, and its next morning
// 08:00 KST: schedules due then do not fire while the test runs, which
// plays the schedule's firing itself (fireSchedules).
func nightEvening() (evening, morning time.Time) {
	d := time.Now().In(msgcheck.KST).AddDate(0, 0, 2)
	evening = time.Date(d.Year(), d.Month(), d.Day(), 20, 49, 59, 0, msgcheck.KST)
	return evening, time.Date(d.Year(), d.Month(), d.Day()+1, 8, 0, 0, 0, msgcheck.KST)
}

func (e *env) startNight(s *scripted, clock *settableClock, edit func(*config.Account)) {
	a := config.Account{Name: "acct", Provider: "scripted", MaxConcurrency: 4, RequestTimeout: 5 * time.Second, Retry: fastRetry(3)}
	if edit != nil {
		edit(&a)
	}
	p := nightChecked{s, clock}
	e.startWith(e.config(a), worker.Options{Clock: clock, Providers: map[string]providers.Factory{
		"scripted": func(providers.Spec) (providers.Provider, error) { return p, nil },
	}})
}

func adJob(id string, n int) *job.Job {
	j := testJob(id, "acct", n)
	j.Kind, j.Template, j.Ad = job.FriendTalk, "", true
	return j
}

// schedules waits until the jobs stream holds n retry schedules and
// returns them.
func (e *env) schedules(n int) []*jetstream.RawStreamMsg {
	e.t.Helper()
	filter := streams.SchedulePrefix + ".>"
	waitFor(e.t, 30*time.Second, "the retry schedules", func() bool {
		c, err := e.subjectCount(streams.JobsStream, filter)
		return err == nil && c >= uint64(n)
	})
	st, err := e.js.Stream(e.t.Context(), streams.JobsStream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(e.t.Context(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for subject := range info.State.Subjects {
		m, err := st.GetLastMsgForSubject(e.t.Context(), subject)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// checkScheduledFor checks that schedule m fires at want on the worker's
// clock, which read now when m was made. NATS runs schedules on the real
// clock, so m says the real time want-now from when it was made (a few
// seconds ago at most; a minute is allowed for a busy machine).
func checkScheduledFor(t *testing.T, m *jetstream.RawStreamMsg, now, want time.Time) {
	t.Helper()
	h := m.Header.Get(jetstream.ScheduleHeader)
	at, err := time.Parse(time.RFC3339, strings.TrimPrefix(h, "@at "))
	if err != nil {
		t.Fatalf("schedule %q: %v", h, err)
	}
	if off := at.Sub(time.Now().Add(want.Sub(now))); off > time.Second || off < -time.Minute {
		t.Fatalf("scheduled %q: %s from now; want %s from now (08:00 KST on the worker's clock)",
			h, time.Until(at).Round(time.Second), want.Sub(now))
	}
}

// fireSchedules delivers the schedules' envelopes to their targets, as
// JetStream does when they are due.
func (e *env) fireSchedules(ms []*jetstream.RawStreamMsg) {
	e.t.Helper()
	for _, m := range ms {
		out := nats.NewMsg(m.Header.Get(jetstream.ScheduleTargetHeader))
		out.Data = m.Data
		for k, v := range m.Header {
			if k != jetstream.ScheduleHeader && k != jetstream.ScheduleTargetHeader && k != jetstream.MsgIDHeader {
				out.Header[k] = v
			}
		}
		ctx, cancel := context.WithTimeout(e.t.Context(), 5*time.Second)
		_, err := e.js.PublishMsg(ctx, out)
		cancel()
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestRetryInAdNightWaitsForTheMorning: an ad sent at 20:49:59 KST gets a
// retryable answer; its retry would come in Kakao's ad night, so it is
// scheduled for 08:00 KST instead of being sent (or refused) at night,
// and sent then.
func TestRetryInAdNightWaitsForTheMorning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	evening, morning := nightEvening()
	clock := &settableClock{t: evening}
	s := &scripted{limit: 100, answer: func(_ string, attempt int) providers.Outcome {
		if attempt == 1 {
			o := transient
			o.RetryAfter = 2 * time.Second
			return o
		}
		return accepted
	}}
	e.startNight(s, clock, nil)
	e.publishJob(adJob("ad-retry", 1))

	sched := e.schedules(1)
	checkScheduledFor(t, sched[0], evening, morning)
	if n := len(s.calls()); n != 1 {
		t.Fatalf("%d provider calls before the morning, want 1", n)
	}
	clock.Set(morning.Add(5 * time.Second))
	e.fireSchedules(sched)
	ev := e.results(1, 30*time.Second)[0]
	if ev.Status != result.Accepted || ev.Attempt != 2 {
		t.Errorf("result %s/%s at attempt %d (%s); want accepted at attempt 2", ev.Status, ev.Reason, ev.Attempt, ev.Message)
	}
}

// TestNightAdsHold: with night_ads: hold, an ad job that comes at 20:49:59
// KST is held in JetStream (a schedule for 08:00 KST; the job is
// acknowledged, nothing is sent) and sent in the morning; one whose
// deadline comes first fails without a provider call.
func TestNightAdsHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	evening, morning := nightEvening()
	evening = evening.Add(time.Second) // 20:50:00, in the window
	clock := &settableClock{t: evening}
	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return accepted }}
	e.startNight(s, clock, func(a *config.Account) { a.NightAds = config.NightAdsHold })
	e.publishJob(adJob("ad-held", 2))
	late := adJob("ad-deadline", 1)
	late.Deadline = ptrTime(evening.Add(2 * time.Hour))
	e.publishJob(late)

	ev := e.results(1, 30*time.Second)[0]
	if ev.JobID != late.ID || ev.Status != result.Failed || ev.Reason != result.ReasonDeadlineExceeded {
		t.Errorf("job with a deadline before the morning: %s %s/%s; want failed, deadline_exceeded", ev.JobID, ev.Status, ev.Reason)
	}
	sched := e.schedules(1)
	checkScheduledFor(t, sched[0], evening, morning)
	waitFor(t, 30*time.Second, "the held job acknowledged", func() bool {
		n, err := e.subjectCount(streams.JobsStream, "talkrelay.jobs.>")
		return err == nil && n == 0
	})
	if n := len(s.calls()); n != 0 {
		t.Fatalf("%d provider calls at night, want none", n)
	}
	clock.Set(morning.Add(5 * time.Second))
	e.fireSchedules(sched)
	for _, ev := range e.results(3, 30*time.Second)[1:] {
		if ev.JobID != "ad-held" || ev.Status != result.Accepted || ev.Attempt != 1 {
			t.Errorf("held job's result %s %s/%s at attempt %d; want accepted at attempt 1", ev.JobID, ev.Status, ev.Reason, ev.Attempt)
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
