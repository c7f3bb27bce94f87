package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// ReportsStream holds the delivery reports, one terminal report per
// accepted recipient.
const ReportsStream = streams.ReportsStream

// ReportState is a recipient's terminal delivery state.
type ReportState string

// The report states (see schemas/report.v1.schema.json).
const (
	Delivered      ReportState = "delivered"
	NotDelivered   ReportState = "failed"
	FallbackSent   ReportState = "fallback_sent"
	FallbackFailed ReportState = "fallback_failed"
	Expired        ReportState = "expired"
)

// Report is one recipient's delivery report. It mirrors
// schemas/report.v1.schema.json field for field.
type Report struct {
	Version           int             `json:"version"`
	JobID             string          `json:"job_id"`
	RecipientIndex    int             `json:"recipient_index"`
	Ref               string          `json:"ref,omitempty"`
	Phone             string          `json:"phone,omitempty"` // masked
	Account           string          `json:"account"`
	Provider          string          `json:"provider"`
	Kind              string          `json:"kind,omitempty"`
	State             ReportState     `json:"state"`
	Code              string          `json:"code,omitempty"`
	CodeName          string          `json:"code_name,omitempty"`
	Message           string          `json:"message,omitempty"`
	Fallback          *Fallback       `json:"fallback,omitempty"`
	ProviderMessageID string          `json:"provider_message_id,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	ReportedAt        *time.Time      `json:"reported_at,omitempty"`
	Time              time.Time       `json:"time"`
}

// Fallback is the SMS/LMS a provider sent instead of an undelivered message.
type Fallback struct {
	Type    string `json:"type,omitempty"` // SMS or LMS; "" when the provider does not say
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// JobReportsSubject is the subject filter that matches every report of one
// job: talkrelay.reports.<account>.*.<job>.
func JobReportsSubject(account, jobID string) string {
	return streams.JobReportsFilter(account, jobID)
}

// ReportWaiter waits for the delivery reports of accepted recipients, as a
// Waiter waits for results: make it before the first publish, Add each
// recipient whose result is accepted, then range over Reports. It reads
// as a Waiter does (see Waiter), from the reports stream.
type ReportWaiter struct {
	c         *Client
	startSeq  uint64
	jobs      map[string]*reported
	order     []string
	remaining int
}

type reported struct {
	account string
	waiting map[int]bool // recipient indexes without a report
}

// NewReportWaiter pins the reports stream's position: see Waiter.
func (c *Client) NewReportWaiter(ctx context.Context) (*ReportWaiter, error) {
	s, err := c.js.Stream(ctx, ReportsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = ErrNotSetUp
	}
	if err != nil {
		return nil, fmt.Errorf("talkrelay: look up stream %s: %w", ReportsStream, err)
	}
	return &ReportWaiter{c: c, startSeq: s.CachedInfo().State.LastSeq + 1, jobs: map[string]*reported{}}, nil
}

// Add waits for the report of recipient index of job jobID of account; a
// recipient added before is ignored.
func (w *ReportWaiter) Add(account, jobID string, index int) {
	j := w.jobs[jobID]
	if j == nil {
		j = &reported{account: account, waiting: map[int]bool{}}
		w.jobs[jobID] = j
		w.order = append(w.order, jobID)
	}
	if !j.waiting[index] {
		j.waiting[index] = true
		w.remaining++
	}
}

// Remaining is the number of recipients without a report.
func (w *ReportWaiter) Remaining() int { return w.remaining }

// ReceivedReport is a report yielded by ReportWaiter.Reports.
type ReceivedReport struct {
	Report
	// Data is the report as stored.
	Data []byte
	// CaughtUp says no other matching report was stored when this one was
	// delivered.
	CaughtUp bool
}

// Reports yields the report of each added recipient once, in stream order,
// and ends when every one has its report. An *EventError is yielded for a
// message that is not a report and the sequence goes on; any other error,
// ctx's included, is the last value yielded.
func (w *ReportWaiter) Reports(ctx context.Context) iter.Seq2[ReceivedReport, error] {
	return func(yield func(ReceivedReport, error) bool) {
		if w.remaining == 0 {
			return
		}
		cfg := followConfig(streams.ReportsPrefix, w.startSeq, w.order, func(id string) string { return w.jobs[id].account })
		for f, err := range follow[Report](ctx, w.c.js, ReportsStream, cfg) {
			if err != nil {
				if !yield(ReceivedReport{}, err) {
					return
				}
				continue
			}
			j := w.jobs[f.v.JobID]
			if j == nil || !j.waiting[f.v.RecipientIndex] {
				continue
			}
			delete(j.waiting, f.v.RecipientIndex)
			w.remaining--
			if !yield(ReceivedReport{Report: f.v, Data: f.msg.Data(), CaughtUp: f.caughtUp()}, nil) || w.remaining == 0 {
				return
			}
		}
	}
}

// Unreported yields, per added job with recipients still without a
// report, their indexes in ascending order.
func (w *ReportWaiter) Unreported() iter.Seq2[string, []int] {
	return func(yield func(string, []int) bool) {
		for _, id := range w.order {
			if len(w.jobs[id].waiting) == 0 {
				continue
			}
			if !yield(id, slices.Sorted(maps.Keys(w.jobs[id].waiting))) {
				return
			}
		}
	}
}
