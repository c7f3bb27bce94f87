package providers

import (
	"context"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
)

// Terminal delivery states a provider's report can carry (the report
// schema's states but expired, which talkrelay decides).
const (
	ReportDelivered      = "delivered"
	ReportFailed         = "failed"
	ReportFallbackSent   = "fallback_sent"
	ReportFallbackFailed = "fallback_failed"
)

// Report is one recipient's terminal delivery state as its provider
// reports it, correlated to the job and recipient by the id talkrelay
// chose when it sent the message.
type Report struct {
	JobID string
	Index int
	State string // one of the Report* states
	// Code, CodeName and Message are the provider's delivery result.
	Code, CodeName, Message string
	// FallbackType (SMS or LMS, "" when the provider does not say) and
	// FallbackCode describe the fallback, on the fallback states.
	FallbackType, FallbackCode string
	// RequestID and MessageID are the provider's ids of the message.
	RequestID, MessageID string
	// At is when the provider says the state was reached (zero: unknown).
	At time.Time
	// Canceled says the provider cancelled the message before it was sent
	// (a reservation cancelled; State is failed): no report is published
	// when talkrelay cancelled it, the recipient's final result being
	// canceled, since a canceled recipient is not reported.
	Canceled bool
}

// WindowReporter is a provider whose delivery reports are listed by the
// time they were updated, in pages (NHN's message-results). It is
// optional: a Provider that implements it gets a report poller.
type WindowReporter interface {
	// ReportKinds are the job kinds whose reports are listed apart (one
	// poller each).
	ReportKinds() []job.Kind
	// ReportLimits are the listing's limits: the finest window (its time
	// format's resolution), the widest window one listing may span and
	// the largest page.
	ReportLimits() (resolution, maxWindow time.Duration, maxPage int)
	// ReportPage lists page (from 1) of size of the reports of kind
	// updated in [from, to), both multiples of the resolution. Reports
	// that are not terminal yet, or not of a message talkrelay sent
	// (their id does not decode), are counted in Skipped, not returned.
	ReportPage(ctx context.Context, kind job.Kind, from, to time.Time, page, size int) (*ReportPage, error)
}

// ReportPage is one page of a WindowReporter.
type ReportPage struct {
	Reports []Report
	// Listed is how many entries the page held; Total how many the whole
	// window holds, as the provider counts them.
	Listed, Total int
	// Skipped counts the listed entries that are not in Reports.
	Skipped int
}
