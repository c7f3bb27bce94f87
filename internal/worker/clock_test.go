package worker_test

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// fixedClock always says the same time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// The worker takes the time of its decisions and of what it stores from
// Options.Clock: a clock two hours ahead finds a job due in an hour past
// its deadline, and stamps results with its own time.
func TestClockDecidesDeadlinesAndStampsResults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().Add(2 * time.Hour).Truncate(time.Second).UTC()
	e.startWith(e.config(sandboxAccount("acct", nil)), worker.Options{Clock: fixedClock(now)})

	late := testJob("late", "acct", 1)
	deadline := time.Now().Add(time.Hour)
	late.Deadline = &deadline
	e.publishJob(late)
	e.publishJob(testJob("on-time", "acct", 1))

	byJob := map[string]result.Event{}
	for _, ev := range e.results(2, 30*time.Second) {
		byJob[ev.JobID] = ev
	}
	if ev := byJob["late"]; ev.Status != result.Failed || ev.Reason != result.ReasonDeadlineExceeded {
		t.Errorf("job past its deadline by the clock: %s/%s, want failed/deadline_exceeded", ev.Status, ev.Reason)
	}
	ev := byJob["on-time"]
	if ev.Status != result.Accepted {
		t.Fatalf("job without deadline: %s/%s, want accepted", ev.Status, ev.Reason)
	}
	if !ev.Time.Equal(now) || ev.SentAt == nil || !ev.SentAt.Equal(now) {
		t.Errorf("result time %s, sent_at %v; want both %s, the clock's", ev.Time, ev.SentAt, now)
	}
}

// A retry is due on the worker's clock: a clock two hours ahead of the
// NATS server's still gets its retry a backoff (1s) later, not two hours
// and a second later.
func TestRetryIsDueOnTheWorkersClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("clock-retry", "acct", 1)
	s := &scripted{limit: 100, answer: func(_ string, attempt int) providers.Outcome {
		if attempt == 1 {
			return transient
		}
		return accepted
	}}
	e.publishJob(j)
	cfg := e.config(config.Account{Name: "acct", Provider: "scripted", MaxConcurrency: 4, RequestTimeout: 5 * time.Second, Retry: fastRetry(3)})
	e.startWith(cfg, worker.Options{
		Providers: map[string]providers.Factory{"scripted": func(providers.Spec) (providers.Provider, error) { return s, nil }},
		Clock:     fixedClock(time.Now().Add(2 * time.Hour)),
	})
	if ev := e.results(1, 30*time.Second)[0]; ev.Status != result.Accepted || ev.Attempt != 2 {
		t.Fatalf("result %s/%s after %d attempts, want accepted after 2", ev.Status, ev.Reason, ev.Attempt)
	}
}

// The provider adapters read the worker's clock too: whether an ad
// FriendTalk falls in Kakao's night hours (20:50-08:00 KST, refused) is
// the clock's hour, not the machine's.
func TestProvidersCheckOnTheWorkersClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	night := time.Date(2026, 11, 21, 23, 0, 0, 0, msgcheck.KST)
	clock := providertest.NewClock(night)
	kakaoAPI := kakaofake.New(t, kakaofake.WithClock(clock.Now))
	cfg := e.config(providerAccount(t, "kakao-main", "kakao", kakaoAPI.URL(), "",
		map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret},
		map[string]any{"sender_no": "0212345678"}))
	e.startWith(cfg, worker.Options{Providers: worker.Providers, Clock: clock})

	ad := func(id string) *job.Job {
		return &job.Job{Version: 1, ID: id, Account: "kakao-main", Kind: job.FriendTalk, Ad: true,
			Sender:     "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
			Recipients: []job.Recipient{{Phone: "010-3333-0100", Content: "(광고) 이번 주 특가"}}}
	}
	e.publishJob(ad("ad-at-night"))
	if ev := e.results(1, 30*time.Second)[0]; ev.Status != result.Rejected || ev.Reason != result.ReasonInvalidRecipient {
		t.Errorf("ad FriendTalk at 23:00 KST by the clock: %s/%s %q, want rejected/invalid_recipient", ev.Status, ev.Reason, ev.Message)
	}
	clock.Set(night.Add(13 * time.Hour)) // 12:00 KST
	e.publishJob(ad("ad-at-noon"))
	if ev := e.results(2, 30*time.Second)[1]; ev.JobID != "ad-at-noon" || ev.Status != result.Accepted {
		t.Errorf("ad FriendTalk at 12:00 KST by the clock: %s %s/%s %q, want accepted", ev.JobID, ev.Status, ev.Reason, ev.Message)
	}
}
