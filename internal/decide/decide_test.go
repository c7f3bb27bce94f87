package decide

import (
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }
func (c *fakeClock) Set(t time.Time)         { c.t = t }

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// policy has no jitter, so that due times are exact.
var policy = retry.Policy{MaxAttempts: 3, MaxAge: time.Minute, InitialInterval: 2 * time.Second, Multiplier: 2,
	MaxInterval: time.Minute, LookupAfter: 30 * time.Second, MaxLookups: 2}

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func TestAfter(t *testing.T) {
	t.Parallel()
	accepted := &providers.Outcome{Class: providers.Accepted, MessageID: "m1"}
	refused := &providers.Outcome{Class: providers.Permanent, Code: "K105"}
	retryable := &providers.Outcome{Class: providers.Retryable, Code: "B001"}
	unknown := &providers.Outcome{Class: providers.Unknown}
	tests := []struct {
		name      string
		p         retry.Pending
		o         *providers.Outcome
		deadline  *time.Time
		now       time.Time
		canLookup bool

		verdict    retry.Verdict
		due        time.Time
		status     result.Status
		detailLike string // "" : no detail
	}{
		{name: "accepted", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: accepted, now: t0,
			verdict: retry.Final, status: result.Accepted},
		{name: "refused: final without detail", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: refused, now: t0,
			verdict: retry.Final, status: result.Failed},
		{name: "retryable: again after the backoff", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: retryable, now: t0,
			verdict: retry.Again, due: t0.Add(2 * time.Second)},
		{name: "retryable: the backoff counts the pending attempts", p: retry.Pending{Attempts: 2, FirstSentAt: t0}, o: retryable,
			now: t0.Add(10 * time.Second), verdict: retry.Again, due: t0.Add(14 * time.Second)},
		{name: "retryable: due rounds up to the second", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: retryable,
			now: t0.Add(300 * time.Millisecond), verdict: retry.Again, due: t0.Add(3 * time.Second)},
		{name: "retryable: out of attempts", p: retry.Pending{Attempts: 3, FirstSentAt: t0}, o: retryable, now: t0.Add(time.Second),
			verdict: retry.Final, status: result.Failed, detailLike: "after 3 attempts"},
		{name: "retryable: too old, by the clock", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: retryable, now: t0.Add(59 * time.Second),
			verdict: retry.Final, status: result.Failed, detailLike: "more than 1m0s after the first"},
		{name: "retryable: not too old yet", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: retryable, now: t0.Add(57 * time.Second),
			verdict: retry.Again, due: t0.Add(59 * time.Second)},
		{name: "retryable: the deadline passes first", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: retryable, deadline: at(2 * time.Second),
			now: t0, verdict: retry.Final, status: result.Failed, detailLike: "deadline"},
		{name: "retryable: the deadline is later", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: retryable, deadline: at(3 * time.Second),
			now: t0, verdict: retry.Again, due: t0.Add(2 * time.Second)},
		{name: "unknown: first lookup", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: unknown, now: t0, canLookup: true,
			verdict: retry.Lookup, due: t0.Add(30 * time.Second)},
		{name: "unknown: next lookup backs off", p: retry.Pending{Attempts: 1, Lookups: 1, FirstSentAt: t0}, o: unknown,
			now: t0.Add(30 * time.Second), canLookup: true, verdict: retry.Lookup, due: t0.Add(62 * time.Second)},
		{name: "unknown: out of lookups", p: retry.Pending{Attempts: 1, Lookups: 2, FirstSentAt: t0}, o: unknown, now: t0, canLookup: true,
			verdict: retry.Final, status: result.Unknown, detailLike: "2 lookups"},
		{name: "unknown: no lookup API", p: retry.Pending{Attempts: 1, FirstSentAt: t0}, o: unknown, now: t0,
			verdict: retry.Final, status: result.Unknown, detailLike: "no lookup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{tt.now}
			dec := After(policy, &tt.p, tt.o, tt.deadline, clock.Now(), tt.canLookup)
			if dec.Verdict != tt.verdict || !dec.Due.Equal(tt.due) || dec.Status != tt.status {
				t.Fatalf("After = %v %s %q, want %v %s %q", dec.Verdict, dec.Due, dec.Status, tt.verdict, tt.due, tt.status)
			}
			if (tt.detailLike == "") != (dec.Detail == "") || !strings.Contains(dec.Detail, tt.detailLike) {
				t.Errorf("detail %q, want one mentioning %q", dec.Detail, tt.detailLike)
			}
			if dec.Outcome != tt.o {
				t.Errorf("the decision reports %+v, not the outcome it was given", dec.Outcome)
			}
		})
	}
}

// A recipient whose provider keeps answering "try again", followed on a
// fake clock that jumps to each due time: it is retried with a growing
// backoff until it runs out of attempts.
func TestRetriesOnFakeTime(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t0}
	o := &providers.Outcome{Class: providers.Retryable}
	p := retry.Pending{Index: 4}
	wantDue := []time.Duration{2 * time.Second, 6 * time.Second}
	for attempt := 1; ; attempt++ {
		p.Attempts = attempt
		if p.FirstSentAt.IsZero() {
			p.FirstSentAt = clock.Now()
		}
		p.LastSentAt = clock.Now()
		dec := After(policy, &p, o, nil, clock.Now(), false)
		if !dec.At.Equal(clock.Now()) {
			t.Fatalf("attempt %d: decided at %s, want the clock's %s (a final result's time)", attempt, dec.At, clock.Now())
		}
		if attempt == policy.MaxAttempts {
			if dec.Verdict != retry.Final || dec.Status != result.Failed || !strings.Contains(dec.Detail, "3 attempts") {
				t.Fatalf("attempt %d: %+v, want failed after 3 attempts", attempt, dec)
			}
			return
		}
		if dec.Verdict != retry.Again || !dec.Due.Equal(t0.Add(wantDue[attempt-1])) {
			t.Fatalf("attempt %d: %v due %s, want again at t0+%s", attempt, dec.Verdict, dec.Due, wantDue[attempt-1])
		}
		clock.Set(dec.Due)
	}
}

func TestExpired(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		deadline *time.Time
		want     bool
	}{
		{"no deadline", nil, false},
		{"later", at(time.Nanosecond), false},
		{"now", at(0), true},
		{"earlier", at(-time.Hour), true},
	} {
		if got := Expired(tt.deadline, t0); got != tt.want {
			t.Errorf("%s: Expired = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStopped(t *testing.T) {
	t.Parallel()
	sent := retry.Pending{Attempts: 2, Last: retry.FromProvider(&providers.Outcome{Class: providers.Retryable, Code: "B001",
		Message: "busy", RequestID: "r1"})}
	dec := Stopped(&sent)
	if dec.Verdict != retry.Final || dec.Status != result.Failed || !strings.Contains(dec.Detail, "deadline passed") {
		t.Fatalf("Stopped = %+v", dec)
	}
	if o := dec.Outcome; o.Class != providers.Retryable || o.Code != "B001" || o.RequestID != "r1" || o.Reason != result.ReasonDeadlineExceeded {
		t.Errorf("outcome of a recipient with an answer: %+v, want its last answer with reason deadline_exceeded", o)
	}
	never := retry.Pending{}
	if o := Stopped(&never).Outcome; o.Class != providers.Permanent || o.Code != "" || o.Reason != result.ReasonDeadlineExceeded {
		t.Errorf("outcome of a recipient never sent: %+v, want permanent, deadline_exceeded", o)
	}
}

func TestFinal(t *testing.T) {
	t.Parallel()
	j := &job.Job{ID: "order-1", Account: "shop", Kind: job.AlimTalk, Recipients: []job.Recipient{{Phone: "010-1234-5678"}}}
	sentAt := t0.Add(-time.Second)
	for _, tt := range []struct {
		name    string
		p       retry.Pending
		dec     Decision
		check   func(*result.Event) bool
		deadEnd string
	}{
		{
			name: "accepted", p: retry.Pending{Attempts: 1, LastSentAt: sentAt},
			dec: Decision{Verdict: retry.Final, Status: result.Accepted,
				Outcome: &providers.Outcome{Class: providers.Accepted, RequestID: "r", MessageID: "m"}},
			check: func(ev *result.Event) bool {
				return ev.Status == result.Accepted && ev.Reason == result.ReasonOK && !ev.Retryable && ev.Attempt == 1 &&
					ev.ProviderRequestID == "r" && ev.ProviderMessageID == "m" && ev.Detail == "" &&
					ev.SentAt != nil && ev.SentAt.Equal(sentAt)
			},
		},
		{
			name: "refused by the provider: no dead end", p: retry.Pending{Attempts: 1, LastSentAt: sentAt},
			dec: Decision{Verdict: retry.Final, Status: result.Failed,
				Outcome: &providers.Outcome{Class: providers.Permanent, Reason: result.ReasonProviderRejected, Code: "K105", CodeName: "no", Message: "bad"}},
			check: func(ev *result.Event) bool {
				return ev.Status == result.Failed && ev.Reason == result.ReasonProviderRejected && ev.Code == "K105" &&
					ev.CodeName == "no" && ev.Message == "bad" && !ev.Retryable
			},
		},
		{
			name: "out of attempts: a dead end", p: retry.Pending{Attempts: 3, LastSentAt: sentAt},
			dec: Decision{Verdict: retry.Final, Status: result.Failed, Detail: "gave up after 3 attempts",
				Outcome: &providers.Outcome{Class: providers.Retryable, Code: "B001"}},
			check: func(ev *result.Event) bool {
				return ev.Retryable && ev.Attempt == 3 && ev.Reason == providers.Retryable.DefaultReason() &&
					ev.Detail == "gave up after 3 attempts"
			},
			deadEnd: "failed (" + string(providers.Retryable.DefaultReason()) + "): gave up after 3 attempts",
		},
		{
			name: "never sent: no sent_at", p: retry.Pending{},
			dec:     Stopped(&retry.Pending{}),
			check:   func(ev *result.Event) bool { return ev.SentAt == nil && ev.Attempt == 0 },
			deadEnd: "failed (deadline_exceeded): the job's deadline passed before this attempt",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := result.ForRecipient(j, 0, "sandbox", t0)
			deadEnd := Final(ev, &tt.p, tt.dec)
			if !tt.check(ev) {
				t.Errorf("event %+v", ev)
			}
			if deadEnd != tt.deadEnd {
				t.Errorf("dead end %q, want %q", deadEnd, tt.deadEnd)
			}
			if !ev.Time.Equal(t0) {
				t.Errorf("event time %s changed", ev.Time)
			}
			if ev.SentAt != nil && ev.SentAt == &tt.p.LastSentAt {
				t.Error("sent_at aliases the pending state")
			}
		})
	}
}

func TestSystemClock(t *testing.T) {
	t.Parallel()
	before := time.Now()
	got := System.Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Errorf("System.Now() = %s, not the time", got)
	}
}

// TestNotSent: a try whose send record was not stored is no attempt; the
// tries back off by their own count and end at retry.MaxUnsent or the
// deadline, so a recipient never waits on NATS forever.
func TestNotSent(t *testing.T) {
	t.Parallel()
	notSent := &providers.Outcome{Class: providers.Retryable, Reason: result.ReasonProviderUnavailable, Message: "not sent: send record not stored"}
	tests := []struct {
		name       string
		p          retry.Pending
		deadline   *time.Time
		verdict    retry.Verdict
		due        time.Time
		detailLike string
	}{
		{name: "first: again after the initial interval, attempts untouched", p: retry.Pending{Attempts: 2, Unsent: 1},
			verdict: retry.Again, due: t0.Add(2 * time.Second)},
		{name: "backs off by the unsent tries", p: retry.Pending{Unsent: 3}, verdict: retry.Again, due: t0.Add(8 * time.Second)},
		{name: "capped", p: retry.Pending{Unsent: retry.MaxUnsent}, verdict: retry.Final, detailLike: "could not be stored in 10 tries"},
		{name: "deadline first", p: retry.Pending{Unsent: 1}, deadline: at(time.Second), verdict: retry.Final, detailLike: "deadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec := NotSent(policy, &tc.p, notSent, tc.deadline, t0)
			if dec.Verdict != tc.verdict || !dec.Due.Equal(tc.due) {
				t.Errorf("verdict %v due %s, want %v due %s", dec.Verdict, dec.Due, tc.verdict, tc.due)
			}
			if tc.verdict == retry.Final && (dec.Status != result.Failed || !strings.Contains(dec.Detail, tc.detailLike)) {
				t.Errorf("final %s %q, want failed %q", dec.Status, dec.Detail, tc.detailLike)
			}
		})
	}
}

// TestOutsideAdNight: another try of an ad FriendTalk due in Kakao's ad
// night (20:50-08:00 KST) waits for 08:00 KST, unless the deadline comes
// first; other decisions and other jobs are left as they are.
func TestOutsideAdNight(t *testing.T) {
	t.Parallel()
	kst := func(day, h, m int) time.Time {
		return time.Date(2026, 11, day, h, m, 0, 0, time.FixedZone("KST", 9*3600))
	}
	ad := &job.Job{Kind: job.FriendTalk, Ad: true}
	p := &retry.Pending{Attempts: 1, Last: &retry.Outcome{Class: providers.Retryable.String(), Code: "B001"}}
	again := func(at time.Time) Decision { return Decision{Verdict: retry.Again, Due: at} }
	tests := []struct {
		name string
		dec  Decision
		j    *job.Job
		want Decision
	}{
		{"day: unchanged", again(kst(20, 20, 49)), ad, again(kst(20, 20, 49))},
		{"evening: next morning", again(kst(20, 20, 50)), ad, again(kst(21, 8, 0))},
		{"Brand Message: next morning", again(kst(20, 20, 50)), &job.Job{Kind: job.BrandMessage, Ad: true}, again(kst(21, 8, 0))},
		{"after midnight: this morning", again(kst(21, 3, 0)), ad, again(kst(21, 8, 0))},
		{"08:00: unchanged", again(kst(21, 8, 0)), ad, again(kst(21, 8, 0))},
		{"not an ad", again(kst(20, 22, 0)), &job.Job{Kind: job.FriendTalk}, again(kst(20, 22, 0))},
		{"AlimTalk", again(kst(20, 22, 0)), &job.Job{Kind: job.AlimTalk, Ad: true}, again(kst(20, 22, 0))},
		{"reserved for the day", again(kst(20, 22, 0)), &job.Job{Kind: job.FriendTalk, Ad: true, ReserveAt: ptr(kst(21, 10, 0))}, again(kst(20, 22, 0))},
		{"lookup: unchanged", Decision{Verdict: retry.Lookup, Due: kst(20, 22, 0)}, ad, Decision{Verdict: retry.Lookup, Due: kst(20, 22, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := OutsideAdNight(tc.dec, p, tc.j)
			if got.Verdict != tc.want.Verdict || !got.Due.Equal(tc.want.Due) {
				t.Errorf("got %v due %s, want %v due %s", got.Verdict, got.Due, tc.want.Verdict, tc.want.Due)
			}
		})
	}
	withDeadline := &job.Job{Kind: job.FriendTalk, Ad: true, Deadline: ptr(kst(20, 23, 0))}
	got := OutsideAdNight(again(kst(20, 21, 0)), p, withDeadline)
	if got.Verdict != retry.Final || got.Status != result.Failed || got.Outcome.EffectiveReason() != result.ReasonDeadlineExceeded ||
		got.Outcome.Code != "B001" || !strings.Contains(got.Detail, "08:00 KST") {
		t.Errorf("deadline before the morning: %+v (%+v), want failed, deadline_exceeded, the last code", got, got.Outcome)
	}
}

func ptr[T any](v T) *T { return &v }
