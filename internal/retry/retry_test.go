package retry

import (
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

func TestBackoffGrows(t *testing.T) {
	t.Parallel()
	p := Policy{InitialInterval: time.Second, Multiplier: 2, MaxInterval: 30 * time.Second, Jitter: 0}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := p.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	t.Parallel()
	p := Policy{InitialInterval: 10 * time.Second, Multiplier: 2, MaxInterval: time.Hour, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := p.Backoff(2) // 20s ± 50%
		if d < 10*time.Second || d > 30*time.Second {
			t.Fatalf("Backoff(2) = %s, outside 10s..30s", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter produced only %d distinct waits in 200 draws", len(seen))
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	p := Policy{MaxAttempts: 3, MaxAge: time.Hour, InitialInterval: 2 * time.Second, Multiplier: 2, MaxInterval: time.Minute,
		LookupAfter: 30 * time.Second, MaxLookups: 2}
	retryable := &providers.Outcome{Class: providers.Retryable}
	tests := []struct {
		name       string
		o          *providers.Outcome
		attempts   int
		lookups    int
		first      time.Time
		deadline   time.Time
		canLookup  bool
		verdict    Verdict
		at         time.Time
		status     result.Status
		detailLike string
	}{
		{name: "accepted", o: &providers.Outcome{Class: providers.Accepted}, attempts: 1, verdict: Final, status: result.Accepted},
		{name: "permanent", o: &providers.Outcome{Class: providers.Permanent}, attempts: 1, verdict: Final, status: result.Failed},
		{name: "permanent: cancelled at the provider", o: &providers.Outcome{Class: providers.Permanent, Reason: result.ReasonCanceled}, attempts: 1,
			verdict: Final, status: result.Canceled},
		{name: "retryable: backoff", o: retryable, attempts: 1, first: now, verdict: Again, at: now.Add(2 * time.Second)},
		{name: "retryable: backoff grows", o: retryable, attempts: 2, first: now, verdict: Again, at: now.Add(4 * time.Second)},
		{name: "Retry-After wins when longer", o: &providers.Outcome{Class: providers.Retryable, RetryAfter: 7 * time.Second}, attempts: 1, first: now,
			verdict: Again, at: now.Add(7 * time.Second)},
		{name: "Retry-After rounds up to the second", o: &providers.Outcome{Class: providers.Retryable, RetryAfter: 7500 * time.Millisecond}, attempts: 1, first: now,
			verdict: Again, at: now.Add(8 * time.Second)},
		{name: "max attempts", o: retryable, attempts: 3, first: now, verdict: Final, status: result.Failed, detailLike: "3 attempts"},
		{name: "max age", o: retryable, attempts: 1, first: now.Add(-time.Hour), verdict: Final, status: result.Failed, detailLike: "more than 1h0m0s"},
		{name: "deadline before the next attempt", o: retryable, attempts: 1, first: now, deadline: now.Add(time.Second),
			verdict: Final, status: result.Failed, detailLike: "deadline"},
		{name: "deadline after the next attempt", o: retryable, attempts: 1, first: now, deadline: now.Add(time.Minute), verdict: Again, at: now.Add(2 * time.Second)},
		{name: "unknown: look up later", o: &providers.Outcome{Class: providers.Unknown}, attempts: 1, canLookup: true, verdict: Lookup, at: now.Add(30 * time.Second)},
		{name: "unknown: next lookup backs off", o: &providers.Outcome{Class: providers.Unknown}, attempts: 1, lookups: 1, canLookup: true, verdict: Lookup, at: now.Add(32 * time.Second)},
		{name: "unknown: out of lookups", o: &providers.Outcome{Class: providers.Unknown}, attempts: 1, lookups: 2, canLookup: true,
			verdict: Final, status: result.Unknown, detailLike: "2 lookups"},
		{name: "unknown: no lookup API", o: &providers.Outcome{Class: providers.Unknown}, attempts: 1, verdict: Final, status: result.Unknown, detailLike: "no lookup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, at, status, detail := p.Decide(tt.o, tt.attempts, tt.lookups, tt.first, tt.deadline, now, tt.canLookup)
			if v != tt.verdict || !at.Equal(tt.at) || status != tt.status {
				t.Fatalf("Decide = %v %s %q, want %v %s %q", v, at, status, tt.verdict, tt.at, tt.status)
			}
			if !strings.Contains(detail, tt.detailLike) {
				t.Errorf("detail %q does not mention %q", detail, tt.detailLike)
			}
		})
	}
}

func TestPolicyDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	p := Policy{MaxAttempts: 2}.WithDefaults()
	if p.MaxAttempts != 2 || p.InitialInterval != DefaultPolicy().InitialInterval || p.Validate() != nil {
		t.Fatalf("WithDefaults = %+v (%v)", p, p.Validate())
	}
	for _, bad := range []Policy{
		{MaxAttempts: 0}, {MaxAttempts: 1, MaxAge: time.Millisecond},
		{MaxAttempts: 1, MaxAge: time.Hour, InitialInterval: 100 * time.Millisecond},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
	if err := (Policy{MaxAttempts: 1, MaxAge: time.Hour, InitialInterval: time.Second, Multiplier: 2, MaxInterval: time.Second, Jitter: 2, LookupAfter: time.Second}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "jitter") {
		t.Errorf("jitter 2: %v", err)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	e := &Envelope{ID: "job.a0", Round: 1, DueAt: time.Unix(1_800_000_000, 0).UTC(),
		Job:     &job.Job{ID: "job", Account: "a", Kind: job.AlimTalk, Recipients: []job.Recipient{{Phone: "01012345678", Content: "x"}}},
		Pending: []Pending{{Index: 4, Attempts: 2, Last: FromProvider(&providers.Outcome{Class: providers.Retryable, Code: "B001"})}}}
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pending[0].Index != 4 || got.Pending[0].Last.Provider().Class != providers.Retryable || got.Pending[0].Last.Code != "B001" {
		t.Fatalf("round trip: %+v", got.Pending[0])
	}
	for _, bad := range []string{`{}`, `{"version":1,"id":"x","job":{"recipients":[]},"pending":[]}`,
		`{"version":1,"id":"x","job":{"recipients":[{}]},"pending":[{"index":-1}]}`, `nonsense`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"id":"j.a0","job":{"id":"j","recipients":[{"phone":"1"}]},"pending":[{"index":0,"attempts":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		if len(e.Pending) != len(e.Job.Recipients) || len(e.Pending) == 0 {
			t.Fatalf("accepted a malformed envelope: %s", data)
		}
	})
}
