package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// keyed is a scripted adapter that records the batch keys it is sent.
type keyed struct {
	*scripted
	kmu  sync.Mutex
	keys []providers.Key
}

func (k *keyed) Send(ctx context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	k.kmu.Lock()
	k.keys = append(k.keys, b.Key)
	k.kmu.Unlock()
	return k.scripted.Send(ctx, b)
}

func (k *keyed) sentKeys() []providers.Key {
	k.kmu.Lock()
	defer k.kmu.Unlock()
	return append([]providers.Key(nil), k.keys...)
}

// reserving is a keyed adapter with a reservation field taking
// reservations up to a day ahead (as NAVER and NHN, with their horizons).
type reserving struct{ *keyed }

func (reserving) ReserveHorizon() time.Duration { return 24 * time.Hour }

// startReserve runs a worker whose account "acct" is p, on clock.
func (e *env) startReserve(p providers.Provider, clock *settableClock) {
	a := config.Account{Name: "acct", Provider: "scripted", MaxConcurrency: 4, RequestTimeout: 5 * time.Second, Retry: fastRetry(3)}
	e.startWith(e.config(a), worker.Options{Clock: clock, Providers: map[string]providers.Factory{
		"scripted": func(providers.Spec) (providers.Provider, error) { return p, nil },
	}})
}

func newKeyed() *keyed {
	return &keyed{scripted: &scripted{limit: 100, answer: func(string, int) providers.Outcome { return accepted }}}
}

// TestReservationHeldByTalkrelay: a provider without a reservation field
// (Kakao Enterprise) gets a reserved job at its time: until then the job is
// a schedule on the jobs stream, due at reserve_at, and nothing is sent;
// its result says talkrelay held it.
func TestReservationHeldByTalkrelay(t *testing.T) {
	t.Parallel()
	e, p, clock, j, sched := startHeld(t, 2)
	checkScheduledFor(t, sched[0], clock.Now(), *j.ReserveAt)
	if n := len(p.calls()); n != 0 {
		t.Fatalf("%d provider calls before reserve_at, want none", n)
	}
	clock.Set(j.ReserveAt.Add(time.Second))
	e.fireSchedules(sched)
	for _, ev := range e.results(2, 30*time.Second) {
		if ev.Status != result.Accepted || ev.Attempt != 1 || ev.ReservedBy != result.ReservedByTalkrelay {
			t.Errorf("result %s/%s attempt %d reserved_by %q; want accepted at attempt 1, reserved_by talkrelay", ev.Status, ev.Reason, ev.Attempt, ev.ReservedBy)
		}
	}
}

// startHeld runs a worker whose account "acct" has no reservation field,
// on a clock the test sets, and publishes a job of n recipients reserved 3
// hours ahead; it returns once the job is held (its schedule, returned).
func startHeld(t *testing.T, n int) (*env, *keyed, *settableClock, *job.Job, []*jetstream.RawStreamMsg) {
	e := newEnv(t)
	now := time.Now().Truncate(time.Second)
	clock := &settableClock{t: now}
	p := newKeyed()
	e.startReserve(p, clock)
	j := testJob("held", "acct", n)
	j.ReserveAt = ptrTime(now.Add(3 * time.Hour))
	e.publishJob(j)
	return e, p, clock, j, e.schedules(1)
}

// TestReservationBeyondTheProvidersHorizon: a reservation further ahead
// than the provider takes is held by talkrelay until it is within the
// horizon (an hour of margin), then handed to the provider, in a request
// of its own job; one within the horizon goes at once. Both results say
// the provider holds the reservation.
func TestReservationBeyondTheProvidersHorizon(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().Truncate(time.Second)
	clock := &settableClock{t: now}
	p := reserving{newKeyed()}
	e.startReserve(p, clock)
	far := testJob("far", "acct", 1)
	far.ReserveAt = ptrTime(now.Add(26 * time.Hour))
	near := testJob("near", "acct", 1)
	near.ReserveAt = ptrTime(now.Add(2 * time.Hour))
	e.publishJob(far)
	e.publishJob(near)

	ev := e.results(1, 30*time.Second)[0]
	if ev.JobID != "near" || ev.Status != result.Accepted || ev.ReservedBy != result.ReservedByProvider {
		t.Fatalf("first result %s %s reserved_by %q; want near accepted, reserved_by provider", ev.JobID, ev.Status, ev.ReservedBy)
	}
	sched := e.schedules(1)
	handOver := far.ReserveAt.Add(-24*time.Hour + time.Hour)
	checkScheduledFor(t, sched[0], now, handOver)
	clock.Set(handOver)
	e.fireSchedules(sched)
	ev = e.results(2, 30*time.Second)[1]
	if ev.JobID != "far" || ev.Status != result.Accepted || ev.ReservedBy != result.ReservedByProvider {
		t.Fatalf("second result %s %s reserved_by %q; want far accepted, reserved_by provider", ev.JobID, ev.Status, ev.ReservedBy)
	}
	keys := p.sentKeys()
	if len(keys) != 2 || keys[0].OwnJob != "near" || keys[1].OwnJob != "far" || keys[1].ReserveAt != far.ReserveAt.Unix() {
		t.Errorf("requests' keys %+v; want one request per reserved job, near then far, with its reserve time", keys)
	}
}

// TestReservationAfterDeadlineOrTooFar: a job whose deadline comes before
// its reserve_at could never be sent: it fails at once, without a call. One
// reserved more than 366 days ahead is rejected (a cancel marker would not
// outlive its hold).
func TestReservationAfterDeadlineOrTooFar(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().Truncate(time.Second)
	p := newKeyed()
	e.startReserve(p, &settableClock{t: now})
	j := testJob("too-late", "acct", 1)
	j.ReserveAt = ptrTime(now.Add(3 * time.Hour))
	j.Deadline = ptrTime(now.Add(time.Hour))
	e.publishJob(j)
	far := testJob("too-far", "acct", 1)
	far.ReserveAt = ptrTime(now.AddDate(1, 1, 0))
	e.publishJob(far)
	evs := map[string]result.Event{}
	for _, ev := range e.results(2, 30*time.Second) {
		evs[ev.JobID] = ev
	}
	if ev := evs["too-late"]; ev.Status != result.Failed || ev.Reason != result.ReasonDeadlineExceeded {
		t.Errorf("reserved after its deadline: %s/%s; want failed, deadline_exceeded", ev.Status, ev.Reason)
	}
	if ev := evs["too-far"]; ev.Status != result.Rejected || ev.Reason != result.ReasonInvalidJob {
		t.Errorf("reserved 13 months ahead: %s/%s; want rejected, invalid_job", ev.Status, ev.Reason)
	}
	if n := len(p.calls()); n != 0 {
		t.Errorf("%d provider calls; want none", n)
	}
}
