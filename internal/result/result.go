// Package result defines the result event, talkrelay's output: one per
// recipient of every job, as specified by schemas/result.v1.schema.json.
package result

import (
	"encoding/json"
	"github.com/talkrelay/talkrelay/internal/job"
	"time"
)

// Version is the result schema version this package writes.
const Version = 1

// Status is the outcome of one recipient.
type Status string

const (
	// Accepted: the provider took the message.
	Accepted Status = "accepted"
	// Failed: the provider refused the message or could not be reached.
	Failed Status = "failed"
	// Rejected: talkrelay refused the message before calling a provider.
	Rejected Status = "rejected"
	// Unknown: the provider may or may not have taken the message, and no
	// lookup could tell. talkrelay never resends such a message blindly.
	Unknown Status = "unknown"
	// Canceled: the job was cancelled before the message was sent (or its
	// provider-side reservation was cancelled).
	Canceled Status = "canceled"
)

// Who held a reservation, in ReservedBy.
const (
	// ReservedByProvider: the provider took the message as a reservation
	// and sends it at reserve_at.
	ReservedByProvider = "provider"
	// ReservedByTalkrelay: talkrelay held the job and sent it at
	// reserve_at (a provider without a reservation field).
	ReservedByTalkrelay = "talkrelay"
)

// Reason is the normalised outcome code, the same for every provider.
type Reason string

const (
	ReasonOK                  Reason = "ok"
	ReasonInvalidJob          Reason = "invalid_job"
	ReasonUnknownAccount      Reason = "unknown_account"
	ReasonOversized           Reason = "oversized"
	ReasonInvalidRecipient    Reason = "invalid_recipient"
	ReasonRateLimited         Reason = "rate_limited"
	ReasonProviderUnavailable Reason = "provider_unavailable"
	ReasonTimeout             Reason = "timeout"
	ReasonAuth                Reason = "auth"
	ReasonProviderRejected    Reason = "provider_rejected"
	ReasonOutcomeUnknown      Reason = "outcome_unknown"
	ReasonDeadlineExceeded    Reason = "deadline_exceeded"
	ReasonPoison              Reason = "poison"
	ReasonCanceled            Reason = "canceled"
)

// Event is one recipient's result.
type Event struct {
	Version           int             `json:"version"`
	JobID             string          `json:"job_id"`
	RecipientIndex    int             `json:"recipient_index"`
	Ref               string          `json:"ref,omitempty"`
	Phone             string          `json:"phone,omitempty"` // masked
	Account           string          `json:"account"`
	Provider          string          `json:"provider,omitempty"`
	Kind              string          `json:"kind,omitempty"`
	Status            Status          `json:"status"`
	Retryable         bool            `json:"retryable"`
	Attempt           int             `json:"attempt"`
	Reason            Reason          `json:"reason"`
	Code              string          `json:"code,omitempty"`
	CodeName          string          `json:"code_name,omitempty"`
	Message           string          `json:"message,omitempty"`
	Detail            string          `json:"detail,omitempty"`
	ProviderRequestID string          `json:"provider_request_id,omitempty"`
	ProviderMessageID string          `json:"provider_message_id,omitempty"`
	ReservedBy        string          `json:"reserved_by,omitempty"` // accepted reservations: ReservedByProvider or ReservedByTalkrelay
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	TraceID           string          `json:"trace_id,omitempty"`
	Time              time.Time       `json:"time"`
	SentAt            *time.Time      `json:"sent_at,omitempty"`
}

// ForRecipient returns the event of recipient index of j with the job's
// fields filled in; the caller sets the outcome fields.
func ForRecipient(j *job.Job, index int, provider string, now time.Time) *Event {
	ev := new(Event)
	ev.Fill(j, index, provider, now)
	return ev
}

// Fill makes e what ForRecipient returns, in place: an event the caller
// keeps on its stack.
func (e *Event) Fill(j *job.Job, index int, provider string, now time.Time) {
	*e = Event{
		Version:        Version,
		JobID:          j.ID,
		RecipientIndex: index,
		Account:        j.Account,
		Provider:       provider,
		Kind:           string(j.Kind),
		Metadata:       j.Metadata,
		Time:           now,
	}
	if index >= 0 && index < len(j.Recipients) {
		r := &j.Recipients[index]
		e.Ref = r.Ref
		e.Phone = r.MaskedPhone()
	}
}
