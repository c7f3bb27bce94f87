// Package retry decides what happens to a recipient after a provider
// answer: a final result, another attempt after a backoff, or a lookup of an
// unknown outcome. Recipients waiting for either travel in an Envelope that
// is stored in JetStream (a schedule on the jobs stream) until due, so a
// pending retry survives any worker's restart and never holds a consumer.
package retry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Policy is an account's retry policy.
type Policy struct {
	// MaxAttempts is the most provider calls per recipient (1: never retry).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge is how long after its first attempt a recipient may still be
	// retried.
	MaxAge time.Duration `yaml:"max_age"`
	// InitialInterval, Multiplier, MaxInterval and Jitter shape the
	// exponential backoff between attempts (Jitter: 0..1, the randomization
	// factor).
	InitialInterval time.Duration `yaml:"initial_interval"`
	Multiplier      float64       `yaml:"multiplier"`
	MaxInterval     time.Duration `yaml:"max_interval"`
	Jitter          float64       `yaml:"jitter"`
	// LookupAfter is how long after an unknown outcome its first lookup
	// runs; lookups then back off like attempts.
	LookupAfter time.Duration `yaml:"lookup_after"`
	// MaxLookups is how many lookups an unknown outcome gets before its
	// final result is "unknown".
	MaxLookups int `yaml:"max_lookups"`
}

// DefaultPolicy is the policy of an account that sets none.
func DefaultPolicy() Policy {
	return Policy{
		MaxAttempts:     5,
		MaxAge:          time.Hour,
		InitialInterval: 2 * time.Second,
		Multiplier:      2,
		MaxInterval:     5 * time.Minute,
		Jitter:          0.3,
		LookupAfter:     30 * time.Second,
		MaxLookups:      6,
	}
}

// WithDefaults returns p with its zero fields set from DefaultPolicy.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxAge == 0 {
		p.MaxAge = d.MaxAge
	}
	if p.InitialInterval == 0 {
		p.InitialInterval = d.InitialInterval
	}
	if p.Multiplier == 0 {
		p.Multiplier = d.Multiplier
	}
	if p.MaxInterval == 0 {
		p.MaxInterval = max(d.MaxInterval, p.InitialInterval)
	}
	if p.LookupAfter == 0 {
		p.LookupAfter = d.LookupAfter
	}
	if p.MaxLookups == 0 {
		p.MaxLookups = d.MaxLookups
	}
	return p
}

// Validate names the first field out of range.
func (p Policy) Validate() error {
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("max_attempts: %d must be at least 1", p.MaxAttempts)
	case p.MaxAge < time.Second:
		return fmt.Errorf("max_age: %s is shorter than 1s", p.MaxAge)
	case p.InitialInterval < time.Second:
		return fmt.Errorf("initial_interval: %s is shorter than 1s (retries are scheduled to the second)", p.InitialInterval)
	case p.Multiplier < 1:
		return fmt.Errorf("multiplier: %g is below 1", p.Multiplier)
	case p.MaxInterval < p.InitialInterval:
		return fmt.Errorf("max_interval: %s is shorter than initial_interval", p.MaxInterval)
	case p.Jitter < 0 || p.Jitter > 1:
		return fmt.Errorf("jitter: %g is out of range 0..1", p.Jitter)
	case p.LookupAfter < time.Second:
		return fmt.Errorf("lookup_after: %s is shorter than 1s", p.LookupAfter)
	case p.MaxLookups < 0:
		return fmt.Errorf("max_lookups: %d is negative", p.MaxLookups)
	}
	return nil
}

// MaxUnsent is how many tries of a recipient may end without reaching the
// provider (its send record could not be stored in JetStream) before it
// fails: with the backoff between them, long enough to ride out a NATS
// leader election or restart.
const MaxUnsent = 10

// Backoff returns the wait before attempt n+1 after n attempts (n >= 1),
// with jitter, from an exponential backoff of the policy's shape.
func (p Policy) Backoff(n int) time.Duration {
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     p.InitialInterval,
		RandomizationFactor: p.Jitter,
		Multiplier:          p.Multiplier,
		MaxInterval:         p.MaxInterval,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	bo.Reset()
	d := bo.NextBackOff()
	for i := 1; i < n; i++ {
		d = bo.NextBackOff()
	}
	return d
}

// Pending is one recipient of an Envelope.
type Pending struct {
	// Index of the recipient in the original job.
	Index int `json:"index"`
	// Attempts is how many provider calls were made for it so far.
	Attempts int `json:"attempts"`
	// Lookup: the last attempt's outcome is unknown; look it up instead of
	// sending again.
	Lookup bool `json:"lookup,omitempty"`
	// Lookups made so far for the last attempt.
	Lookups int `json:"lookups,omitempty"`
	// Unsent counts tries that never reached the provider because the
	// send record could not be stored: not attempts, but capped at
	// MaxUnsent so that a recipient cannot wait on NATS forever.
	Unsent int `json:"unsent,omitempty"`
	// FirstSentAt is when its first attempt was made.
	FirstSentAt time.Time `json:"first_sent_at"`
	// LastSentAt is when its last attempt was made.
	LastSentAt time.Time `json:"last_sent_at"`
	// Last is the provider's last answer; nil before the first. (A
	// pointer: most recipients of a large job hold no answer for most of
	// its life, and the outcome's strings would cost ~100 bytes each.)
	Last *Outcome `json:"last,omitempty"`
}

// Outcome is a providers.Outcome as stored in an envelope.
type Outcome struct {
	Class     string        `json:"class"`
	Reason    result.Reason `json:"reason,omitempty"`
	Code      string        `json:"code,omitempty"`
	CodeName  string        `json:"code_name,omitempty"`
	Message   string        `json:"message,omitempty"`
	RequestID string        `json:"request_id,omitempty"`
	MessageID string        `json:"message_id,omitempty"`
}

// FromProvider stores o.
func FromProvider(o *providers.Outcome) *Outcome {
	return &Outcome{Class: o.Class.String(), Reason: o.EffectiveReason(), Code: o.Code, CodeName: o.CodeName,
		Message: o.Message, RequestID: o.RequestID, MessageID: o.MessageID}
}

// Provider returns the stored outcome; a nil one is unknown.
func (o *Outcome) Provider() providers.Outcome {
	if o == nil {
		return providers.Outcome{Class: providers.Unknown}
	}
	c := providers.Unknown
	for _, k := range []providers.Class{providers.Accepted, providers.Retryable, providers.Permanent, providers.Unknown} {
		if k.String() == o.Class {
			c = k
		}
	}
	return providers.Outcome{Class: c, Reason: o.Reason, Code: o.Code, CodeName: o.CodeName,
		Message: o.Message, RequestID: o.RequestID, MessageID: o.MessageID}
}

// Envelope carries recipients of one job that are due for another attempt
// or a lookup. It is internal to talkrelay (subject talkrelay.retry.<account>).
type Envelope struct {
	Version int `json:"version"`
	// ID names the envelope in its job's lineage of deliveries; it makes
	// its Nats-Msg-Id, so an envelope stored twice is kept once.
	ID string `json:"id"`
	// DueAt is when it is scheduled.
	DueAt time.Time `json:"due_at"`
	// Job is the original job with Recipients cut down to the pending ones,
	// in the order of Pending.
	Job     *job.Job  `json:"job"`
	Pending []Pending `json:"pending"`
	// Round counts the envelopes of this job so far (1 for the first).
	Round int `json:"round"`
	// JobSeq is the jobs-stream sequence of the job message the lineage
	// started from; the job's traces (send records, results) carry it, so
	// that a job published again can be told from the same job delivered
	// again. 0 in envelopes of earlier versions.
	JobSeq uint64 `json:"job_seq,omitempty"`
}

// HeaderEnvelope marks a message on the retry subject as an Envelope.
const HeaderEnvelope = "Talkrelay-Retry-Round"

// Encode returns the envelope's wire form.
func (e *Envelope) Encode() ([]byte, error) {
	e.Version = 1
	return json.Marshal(e)
}

// Decode reads an envelope written by Encode.
func Decode(data []byte) (*Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("retry envelope: %w", err)
	}
	if e.Version != 1 || e.ID == "" || e.Job == nil || len(e.Pending) != len(e.Job.Recipients) || len(e.Pending) == 0 {
		return nil, fmt.Errorf("retry envelope: malformed (version %d, %d pending)", e.Version, len(e.Pending))
	}
	for _, p := range e.Pending {
		if p.Index < 0 || p.Attempts < 0 {
			return nil, fmt.Errorf("retry envelope: malformed pending recipient %+v", p)
		}
	}
	return &e, nil
}

// Verdict is what to do with a recipient after an answer.
type Verdict int

const (
	// Final: publish the final result now.
	Final Verdict = iota + 1
	// Again: schedule another attempt at the returned time.
	Again
	// Lookup: schedule a lookup of the unknown outcome at the returned time.
	Lookup
)

// Decide returns what to do with a recipient whose attempt number attempts
// (or lookup number lookups of that attempt) gave o, at time now. A zero
// deadline means none. Final verdicts come with the final status and, for
// a recipient that ran out of attempts, time or lookups, the reason why.
// A Permanent outcome with reason canceled (a lookup that found the
// message cancelled at the provider, never sent) is canceled, not failed.
func (p Policy) Decide(o *providers.Outcome, attempts, lookups int, firstSentAt, deadline, now time.Time, canLookup bool) (Verdict, time.Time, result.Status, string) {
	switch o.Class {
	case providers.Accepted:
		return Final, time.Time{}, result.Accepted, ""
	case providers.Permanent:
		if o.Reason == result.ReasonCanceled {
			return Final, time.Time{}, result.Canceled, ""
		}
		return Final, time.Time{}, result.Failed, ""
	case providers.Unknown:
		if !canLookup {
			return Final, time.Time{}, result.Unknown, "the provider offers no lookup"
		}
		if lookups >= p.MaxLookups {
			return Final, time.Time{}, result.Unknown, fmt.Sprintf("still unknown after %d lookups", lookups)
		}
		wait := p.LookupAfter
		if lookups > 0 {
			wait = p.LookupAfter + p.Backoff(lookups)
		}
		return Lookup, due(now, wait), "", ""
	}
	// Retryable.
	if attempts >= p.MaxAttempts {
		return Final, time.Time{}, result.Failed, fmt.Sprintf("gave up after %d attempts", attempts)
	}
	at := due(now, max(p.Backoff(attempts), o.RetryAfter))
	if !firstSentAt.IsZero() && at.Sub(firstSentAt) > p.MaxAge {
		return Final, time.Time{}, result.Failed, fmt.Sprintf("gave up: next attempt would be more than %s after the first", p.MaxAge)
	}
	if !deadline.IsZero() && !at.Before(deadline) {
		return Final, time.Time{}, result.Failed, "gave up: the job's deadline passes before the next attempt"
	}
	return Again, at, "", ""
}

// due rounds now+d up to the whole second schedules are resolved to.
func due(now time.Time, d time.Duration) time.Time {
	t := now.Add(d)
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}
