package providers

import "context"

// ReportLookup is a provider whose polled reports may leave out a message
// it accepted, and that can read that message's terminal state by its id
// (Kakao's detail API). It is optional: the expiry of such an account asks
// it about the recipients still unreported at the report horizon before
// it reports them expired.
type ReportLookup interface {
	// LooksUp says whether m is a message LookupReports asks the
	// provider about: one its polling may never report.
	LooksUp(m *AcceptedMessage) bool
	// LookupReports returns one entry per message, in order: the
	// message's terminal report, or nil where there is none (not terminal
	// yet, unknown to the provider, or a message it does not look up).
	// Every provider request it makes passes the RequestGate of ctx (the
	// account's rate limit).
	LookupReports(ctx context.Context, msgs []AcceptedMessage) ([]*Report, error)
}

// AcceptedMessage is a message as its accepted result recorded it.
type AcceptedMessage struct {
	JobID string
	Index int
	// Code is the provider's code of the accepted answer.
	Code string
	// RequestID and MessageID are the provider's ids of the message.
	RequestID, MessageID string
}
