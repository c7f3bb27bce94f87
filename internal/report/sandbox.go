package report

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/talkrelay/talkrelay/internal/result"
)

// Sandbox is the report source of a sandbox account. The sandbox keeps no
// state of its own, so its "provider side" is the account's accepted
// results in the results stream: each is reported ReportDelay after its
// time, fallback_sent for a FallbackRate share chosen by the message (the
// same on every replica), delivered otherwise. Its cursor is the results
// stream sequence of the last result reported.
type Sandbox struct {
	Store        Store
	Account      string
	ReportDelay  time.Duration
	FallbackRate float64
	Now          func() time.Time
}

// Sandbox codes of the report.
const (
	SandboxDelivered    = "S000"
	SandboxNotDelivered = "S301"
)

// Poll implements Source: at most limit results, a thousand a read.
// The clock is read only when there is a result to report.
func (s *Sandbox) Poll(ctx context.Context, cursor []byte, limit int) (*Page, error) {
	var now time.Time
	return pageOfAccepted(ctx, s.Store, s.Account, cursor, limit, func(r *result.Event) (*Event, bool, error) {
		if now.IsZero() {
			now = s.Now()
		}
		ev := s.report(r, now)
		return ev, ev != nil, nil
	})
}

// report is the report of the accepted result r, or nil before it is due.
func (s *Sandbox) report(r *result.Event, now time.Time) *Event {
	at := r.Time.Add(s.ReportDelay)
	if at.After(now) {
		return nil
	}
	ev := fromResult(r, now)
	ev.ReportedAt = &at
	ev.State, ev.Code, ev.CodeName, ev.Message = Delivered, SandboxDelivered, "delivered", "delivered by the sandbox"
	if share(r.JobID, r.RecipientIndex) < s.FallbackRate {
		ev.State, ev.Code, ev.CodeName, ev.Message = FallbackSent, SandboxNotDelivered, "not_delivered", "the sandbox did not deliver the KakaoTalk message"
		ev.Fallback = &Fallback{Type: "SMS", Code: SandboxDelivered, Message: "fallback sent by the sandbox"}
	}
	return ev
}

// fromResult is a report of the recipient of the accepted result r, with
// what r says of it; the caller sets the state.
func fromResult(r *result.Event, now time.Time) *Event {
	return &Event{Version: Version, JobID: r.JobID, RecipientIndex: r.RecipientIndex, Ref: r.Ref, Phone: r.Phone,
		Account: r.Account, Provider: r.Provider, Kind: r.Kind, ProviderMessageID: r.ProviderMessageID,
		Metadata: r.Metadata, Time: now}
}

// share maps a message to [0, 1), the same on every replica.
func share(jobID string, index int) float64 {
	h := sha256.Sum256([]byte(jobID + "\x00" + strconv.Itoa(index)))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}
