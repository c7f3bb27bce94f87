package providers

import (
	"context"

	"github.com/talkrelay/talkrelay/internal/job"
)

// QueueReporter is a provider that hands its delivery reports out in
// batches, again and again until each batch is completed (Kakao's result
// polling). It is optional: a Provider that implements it gets a report
// poller, which completes a batch only once its reports are stored.
type QueueReporter interface {
	// ReportKinds are the job kinds whose reports it gives.
	ReportKinds() []job.Kind
	// NextReports hands out the next batch. Entries that are not
	// terminal, or not of a message talkrelay sent (their id does not
	// decode), are counted in Skipped, not returned; completing the
	// batch drops them too.
	NextReports(ctx context.Context) (*ReportBatch, error)
	// CompleteReports tells the provider batch group is stored.
	CompleteReports(ctx context.Context, group string) error
}

// ReportBatch is one batch of a QueueReporter.
type ReportBatch struct {
	// Group is the id to complete the batch with; "" when it is empty.
	Group   string
	Reports []Report
	// Listed is how many entries the batch held, Skipped how many of
	// them are not in Reports.
	Listed, Skipped int
	// Full says the batch held as many entries as the provider hands out
	// at once: more may be waiting.
	Full bool
}
