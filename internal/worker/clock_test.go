package worker_test

import (
	"testing"
	"time"

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
