package client

import (
	"encoding/json"
	"time"
)

// Status is the outcome of one recipient.
type Status string

const (
	// Accepted: the provider took the message.
	Accepted Status = "accepted"
	// Failed: the provider refused the message, or it stayed retryable
	// until its attempts, retry age or deadline ran out.
	Failed Status = "failed"
	// Rejected: talkrelay refused the message before calling a provider.
	Rejected Status = "rejected"
	// Unknown: the provider may or may not have taken the message and no
	// lookup could tell. talkrelay never resends such a message blindly.
	Unknown Status = "unknown"
	// Canceled: the job was cancelled before the message was sent (or its
	// provider-side reservation was cancelled, after Accepted).
	Canceled Status = "canceled"
)

// Final reports whether s ends a recipient: every status talkrelay
// publishes today does. A status this version does not know is not final.
func (s Status) Final() bool {
	switch s {
	case Accepted, Failed, Rejected, Unknown, Canceled:
		return true
	}
	return false
}

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

// Result is one recipient's result event. It mirrors
// schemas/result.v1.schema.json field for field.
type Result struct {
	Version int    `json:"version"`
	JobID   string `json:"job_id"`
	// RecipientIndex is the recipient's index in the job's recipients, or
	// -1 for a result about the whole job (a job rejected before its
	// recipients could be read).
	RecipientIndex int    `json:"recipient_index"`
	Ref            string `json:"ref,omitempty"`
	// Phone is masked: 010****5678.
	Phone             string          `json:"phone,omitempty"`
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
	ReservedBy        string          `json:"reserved_by,omitempty"` // a reserved job's: "provider" or "talkrelay"
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	TraceID           string          `json:"trace_id,omitempty"`
	Time              time.Time       `json:"time"`
	SentAt            *time.Time      `json:"sent_at,omitempty"`
}
