// Package providers defines the interface every KakaoTalk business message
// provider adapter implements, and the vocabulary of outcomes they report.
//
// Adapters are pure protocol adapters: they build requests, authenticate,
// parse responses and classify result codes. Batching, rate limits, retries,
// timeouts and metrics wrap them from outside (internal/dispatch).
package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Provider sends batches of messages through one provider account.
//
// Implementations are safe for concurrent use: the dispatcher calls Send from
// many goroutines at once.
type Provider interface {
	// MaxBatch is the largest number of messages one Send may carry (the
	// provider's per-request limit: NAVER 100, NHN 1000, Kakao 1).
	MaxBatch() int

	// Check reports whether m can be sent by this provider as it is, from the
	// provider's documented limits (text lengths, button fields, phone
	// format, reserve time...). A non-nil error is the reason the message is
	// rejected; the provider is never called for it.
	Check(m *Message) error

	// Send makes one provider request for the batch, which holds at most
	// MaxBatch messages that share b.Key and have passed Check.
	//
	// On a request the provider answered per message, Send returns one
	// Outcome per message, in the batch's order, and a nil error. When the
	// request as a whole failed (transport error, HTTP 429/5xx, auth, an
	// unreadable body), it returns a nil slice and an error; an *Error
	// carries the class that applies to every message of the batch, any
	// other error is treated as retryable.
	Send(ctx context.Context, b *Batch) ([]Outcome, error)
}

// Message is one recipient of a batch with the job it came from.
type Message struct {
	Job       *job.Job
	Index     int // index of Recipient in Job.Recipients
	Recipient *job.Recipient
	// Attempt counts provider calls for this message, 1 on the first.
	Attempt int
}

// Key is what all messages of one provider request must share.
type Key struct {
	Account   string
	Kind      job.Kind
	Sender    string
	Template  string
	ReserveAt int64 // Unix seconds; 0 when the job is not reserved
	Ad        bool
	// Variables is true when the messages carry template variables instead
	// of full content (NHN AlimTalk /messages vs /raw-messages).
	Variables bool
	// OwnJob is the id of a job whose recipients never share a request
	// with another job's (ownRequests), "" for others.
	OwnJob string
}

// KeyOf returns the batch key of recipient r of job j, sent through the
// account named account with default sender defaultSender.
func KeyOf(j *job.Job, r *job.Recipient, defaultSender string) Key {
	k := Key{
		Account:   j.Account,
		Kind:      j.Kind,
		Sender:    j.Sender,
		Template:  j.Template,
		OwnJob:    ownRequests(j),
		Ad:        j.Ad,
		Variables: Variables(r),
	}
	if k.Sender == "" {
		k.Sender = defaultSender
	}
	if j.ReserveAt != nil {
		k.ReserveAt = j.ReserveAt.Unix()
	}
	return k
}

// Variables tells whether recipient r carries template variables instead
// of full content: the one part of a batch key a recipient decides.
func Variables(r *job.Recipient) bool { return r.Content == "" && len(r.Variables) > 0 }

// ownRequests is the id of j when its recipients must have provider
// requests of their own, "" otherwise:
//   - a brandmessage job's brand object is the message of the whole
//     request;
//   - a reserved job's reservation may be cancelled, which cancels a whole
//     provider request: it must take no other job's recipients with it.
func ownRequests(j *job.Job) string {
	if j.Kind == job.BrandMessage || j.ReserveAt != nil {
		return j.ID
	}
	return ""
}

// ReserveTime returns the key's reservation time, and false when there is none.
func (k Key) ReserveTime() (time.Time, bool) {
	if k.ReserveAt == 0 {
		return time.Time{}, false
	}
	return time.Unix(k.ReserveAt, 0), true
}

// Batch is the content of one provider request.
type Batch struct {
	// ID identifies this set of messages at this attempt. It is derived from
	// the messages' job ids, indexes and attempts, so a repeated attempt of
	// the same batch has the same ID: providers use it as an idempotency key.
	ID       string
	Key      Key
	Messages []Message
}

// Class is how a provider's answer for one message is to be treated.
type Class int

const (
	// Accepted: the provider took the message.
	Accepted Class = iota + 1
	// Retryable: the message was not taken and a later attempt may succeed.
	Retryable
	// Permanent: the message was refused and must not be tried again.
	Permanent
	// Unknown: the provider may have taken the message (timeout after the
	// request was written, Kakao 100/500, NHN -1005, delivery 3005). Never
	// resend blindly.
	Unknown
)

func (c Class) String() string {
	switch c {
	case Accepted:
		return "accepted"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// DefaultReason is the normalised reason of a class when the provider
// reports nothing more specific.
func (c Class) DefaultReason() result.Reason {
	switch c {
	case Accepted:
		return result.ReasonOK
	case Retryable:
		return result.ReasonProviderUnavailable
	case Unknown:
		return result.ReasonOutcomeUnknown
	}
	return result.ReasonProviderRejected
}

// Outcome is the provider's answer for one message.
type Outcome struct {
	Class Class
	// Reason refines Class for the result event; empty means Class.DefaultReason().
	Reason   result.Reason
	Code     string // provider's own code (A000, -1005, 520)
	CodeName string // provider's documented name of the code
	Message  string // provider's text
	// RequestID and MessageID are the provider's identifiers, when given.
	RequestID  string
	MessageID  string
	RetryAfter time.Duration // from a Retry-After header, when given
}

// EffectiveReason returns Reason, or the class's default.
func (o *Outcome) EffectiveReason() result.Reason {
	if o.Reason != "" {
		return o.Reason
	}
	return o.Class.DefaultReason()
}

// Error is a failure of a whole provider request.
type Error struct {
	Provider   string
	Class      Class // Retryable, Permanent or Unknown
	Reason     result.Reason
	HTTPStatus int // 0 when no response was read
	Code       string
	CodeName   string
	Message    string
	RetryAfter time.Duration
	Err        error // underlying transport or parse error, if any
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %s", e.Provider, e.Class)
	if e.HTTPStatus != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.HTTPStatus)
	}
	if e.Code != "" {
		msg += ": code " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Outcome returns the outcome the error means for each message of its batch.
func (e *Error) Outcome() Outcome {
	return Outcome{Class: e.Class, Reason: e.Reason, Code: e.Code, CodeName: e.CodeName,
		Message: e.Message, RetryAfter: e.RetryAfter}
}

// OutcomeOf turns a Send error into the outcome for each message of the batch.
func OutcomeOf(err error) Outcome {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Outcome()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The deadline may have passed after the request was written.
		return Outcome{Class: Unknown, Reason: result.ReasonTimeout, Message: err.Error()}
	}
	return Outcome{Class: Retryable, Message: err.Error()}
}

// Spec is what a provider factory gets to build a client for one account.
type Spec struct {
	// Account is the account's name, for errors and logs.
	Account string
	// BaseURL overrides the provider's default host (scheme://host[:port][/prefix]).
	BaseURL string
	// Credentials are the account's resolved secrets by name.
	Credentials map[string]string
	// DecodeOptions decodes the account's provider options into a struct,
	// failing on unknown fields. It is never nil.
	DecodeOptions func(into any) error
	// HTTPClient is the client to send with; it has no overall timeout, the
	// dispatcher's context bounds each call.
	HTTPClient *http.Client
	// Now is the worker's clock (worker.Options.Clock), the adapter's only
	// clock: reservation and ad-hour checks, lookup windows, Retry-After
	// dates, token lifetimes and signatures read it. Nil: time.Now. Only
	// tests set another clock than the real one, and share it with the
	// provider's fake.
	Now func() time.Time
	// ReportsPolled says the account's reports.enabled is true: the
	// worker polls the provider's delivery reports (if it can), so an
	// adapter may leave to them what it would otherwise look up (Kakao's
	// 100, in progress).
	ReportsPolled bool
}

// Credential returns the named credential, or an error naming the account
// and the missing field.
func (s Spec) Credential(name string) (string, error) {
	v := s.Credentials[name]
	if v == "" {
		return "", fmt.Errorf("accounts.%s.credentials.%s: required by this provider but not set", s.Account, name)
	}
	return v, nil
}

// Factory builds a provider for one account.
type Factory func(Spec) (Provider, error)

// Resolver is implemented by providers that can look up what became of
// messages whose outcome is unknown: a timeout after the request was
// written, an answer that may follow acceptance (Kakao 100/500, NHN -1005),
// or a worker that died between sending and recording the answer.
//
// Resolve returns one Outcome per query, in order:
//   - Accepted or Permanent: the provider's record says so (Code, CodeName,
//     RequestID and MessageID from the record);
//   - Retryable: the provider's record proves it never took the message
//     (an authoritative "not found" well after the send), so sending again
//     cannot duplicate it;
//   - Unknown: the provider cannot tell yet (or cannot tell at all); the
//     caller asks again later and in the end reports the message unknown.
//
// An error means the lookup itself failed (transport, auth); the caller
// retries the lookup later. A *LookupError instead says that only some
// lookups failed: it comes with one Outcome per query, Unknown for those
// whose lookup failed or was never made. Implementations are safe for
// concurrent use.
type Resolver interface {
	Resolve(ctx context.Context, queries []Query) ([]Outcome, error)
}

// LookupError is the error of a Resolve call that answered some queries
// and not others, returned with an Outcome for every query.
type LookupError struct {
	// NotMade marks, per query, a lookup that was never made (the call's
	// context ended before its turn): it is not counted as a lookup.
	NotMade []bool
	// Err is the first failure.
	Err error
}

func (e *LookupError) Error() string { return e.Err.Error() }

func (e *LookupError) Unwrap() error { return e.Err }

// Query asks what became of one message.
type Query struct {
	Message Message
	Key     Key
	// SentAt is when the uncertain request was sent (zero if not known:
	// the worker died before recording it, so only a window is known).
	SentAt time.Time
	// Last is the unknown outcome, with whatever identifiers the provider
	// answered before the outcome became uncertain (request id, message id
	// or uid).
	Last Outcome
}

// DefaultNotFoundAfter is the default of the not_found_after option of
// every Resolver: how long after a send a provider's query API is given to
// list a message it took. A lookup that finds nothing this long after the
// send proves the provider never took the message, and it is sent again;
// before, the answer is Unknown.
const DefaultNotFoundAfter = 2 * time.Minute

// CheckNotFoundAfter validates a not_found_after option. Below a second
// "not listed" would race the send itself; above an hour it would only
// widen lookup windows for messages long since reported unknown.
func CheckNotFoundAfter(d time.Duration, provider string) error {
	if d < time.Second || d > time.Hour {
		return fmt.Errorf("not_found_after: %s is out of range 1s..1h (default %s: how long %s may take to list a message it took)",
			d, DefaultNotFoundAfter, provider)
	}
	return nil
}
