// Package report follows accepted messages to their terminal delivery
// state: the delivery report event (schemas/report.v1.schema.json), the one
// function that publishes it, and the pollers that fetch reports from a
// provider, one replica per account at a time, from a cursor kept in NATS.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Version is the report schema version this package writes.
const Version = 1

// State is a recipient's terminal delivery state.
type State string

const (
	// Delivered: the KakaoTalk message reached the phone.
	Delivered State = "delivered"
	// Failed: it did not, and no fallback was sent.
	Failed State = "failed"
	// FallbackSent: it did not, and the SMS/LMS fallback was sent instead.
	FallbackSent State = "fallback_sent"
	// FallbackFailed: it did not, and the fallback failed too.
	FallbackFailed State = "fallback_failed"
	// Expired: no terminal state was reported within the report horizon.
	Expired State = "expired"
)

// Fallback is the SMS/LMS sent in place of a message that was not delivered.
type Fallback struct {
	Type    string `json:"type,omitempty"` // SMS or LMS; "" when the provider does not say
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Event is one recipient's delivery report.
type Event struct {
	Version           int             `json:"version"`
	JobID             string          `json:"job_id"`
	RecipientIndex    int             `json:"recipient_index"`
	Ref               string          `json:"ref,omitempty"`
	Phone             string          `json:"phone,omitempty"` // masked
	Account           string          `json:"account"`
	Provider          string          `json:"provider"`
	Kind              string          `json:"kind,omitempty"`
	State             State           `json:"state"`
	Code              string          `json:"code,omitempty"`
	CodeName          string          `json:"code_name,omitempty"`
	Message           string          `json:"message,omitempty"`
	Fallback          *Fallback       `json:"fallback,omitempty"`
	ProviderMessageID string          `json:"provider_message_id,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	ReportedAt        *time.Time      `json:"reported_at,omitempty"`
	Time              time.Time       `json:"time"`
}

// MsgID is the Nats-Msg-Id of the report of recipient index of job jobID:
// one per recipient whatever its state, so that a report published twice
// (a poller that took over, a webhook repeated) is stored once.
func MsgID(jobID string, index int) string {
	return "report/" + jobID + "/" + strconv.Itoa(index)
}

// Msg is ev as the message Publish stores.
func Msg(ev *Event) (*nats.Msg, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("report: encode: %w", err)
	}
	m := nats.NewMsg(streams.ReportSubject(ev.Account, string(ev.State), ev.JobID))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, MsgID(ev.JobID, ev.RecipientIndex))
	return m, nil
}

// Publish stores the reports evs in the reports stream and returns once
// JetStream has acknowledged all of them; a report the stream already
// holds (same job and recipient) counts as stored. This is the one way a
// report is published, by the pollers and by any push receiver.
func Publish(ctx context.Context, js jetstream.JetStream, evs []*Event) error {
	futs := make([]jetstream.PubAckFuture, 0, len(evs))
	for _, ev := range evs {
		m, err := Msg(ev)
		if err != nil {
			return err
		}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("report: publish %s: %w", m.Header.Get(jetstream.MsgIDHeader), err)
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("report: publish %s: %w", f.Msg().Header.Get(jetstream.MsgIDHeader), err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
