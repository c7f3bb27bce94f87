package report

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Sandbox is the report source of a sandbox account. The sandbox keeps no
// state of its own, so its "provider side" is the account's accepted
// results in the results stream: each is reported ReportDelay after its
// time, fallback_sent for a FallbackRate share chosen by the message (the
// same on every replica), delivered otherwise. Its cursor is the results
// stream sequence of the last result reported.
type Sandbox struct {
	JS           jetstream.JetStream
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

// Poll implements Source: one direct get per result, at most limit.
func (s *Sandbox) Poll(ctx context.Context, cursor []byte, limit int) (*Page, error) {
	seq, err := parseSeq(cursor)
	if err != nil {
		return nil, err
	}
	stream, err := s.JS.Stream(ctx, streams.ResultsStream)
	if err != nil {
		return nil, err
	}
	filter := streams.ResultsPrefix + "." + streams.Token(s.Account) + "." + string(result.Accepted) + ".>"
	page := &Page{Next: cursor}
	now := s.Now()
	for len(page.Reports) < limit {
		m, err := stream.GetMsg(ctx, seq+1, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return page, nil
		}
		if err != nil {
			return nil, err
		}
		ev, err := s.report(m.Data, now)
		if err != nil {
			return nil, fmt.Errorf("report: sandbox: result %d: %w", m.Sequence, err)
		}
		if ev == nil {
			return page, nil // not due yet; nor is anything after it
		}
		page.Reports = append(page.Reports, ev)
		seq = m.Sequence
		page.Next = []byte(strconv.FormatUint(seq, 10))
	}
	page.More = true
	return page, nil
}

// report is the report of the accepted result data, or nil before it is due.
func (s *Sandbox) report(data []byte, now time.Time) (*Event, error) {
	var r result.Event
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if r.JobID == "" || r.RecipientIndex < 0 {
		return nil, fmt.Errorf("accepted result without job id or recipient index")
	}
	at := r.Time.Add(s.ReportDelay)
	if at.After(now) {
		return nil, nil
	}
	ev := &Event{Version: Version, JobID: r.JobID, RecipientIndex: r.RecipientIndex, Ref: r.Ref, Phone: r.Phone,
		Account: r.Account, Provider: r.Provider, Kind: r.Kind, ProviderMessageID: r.ProviderMessageID,
		Metadata: r.Metadata, ReportedAt: &at, Time: now,
		State: Delivered, Code: SandboxDelivered, CodeName: "delivered", Message: "delivered by the sandbox"}
	if share(r.JobID, r.RecipientIndex) < s.FallbackRate {
		ev.State, ev.Code, ev.CodeName, ev.Message = FallbackSent, SandboxNotDelivered, "not_delivered", "the sandbox did not deliver the KakaoTalk message"
		ev.Fallback = &Fallback{Type: "SMS", Code: SandboxDelivered, Message: "fallback sent by the sandbox"}
	}
	return ev, nil
}

// share maps a message to [0, 1), the same on every replica.
func share(jobID string, index int) float64 {
	h := sha256.Sum256([]byte(jobID + "\x00" + strconv.Itoa(index)))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

func parseSeq(cursor []byte) (uint64, error) {
	if len(cursor) == 0 {
		return 0, nil
	}
	seq, err := strconv.ParseUint(string(cursor), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("report: sandbox cursor %q: %w", cursor, err)
	}
	return seq, nil
}
