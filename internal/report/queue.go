package report

import (
	"context"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
)

// Queue is the report source of an account whose provider hands reports
// out in batches until each is completed (providers.QueueReporter,
// Kakao). The provider keeps the position, so the cursor is only the
// group of the last batch stored; the poller completes a batch
// (Page.Complete) after its reports are stored and that cursor is saved
// under the lease, so a replica that lost the lease never completes one.
// A poller that dies before completing leaves the batch to be handed out
// again; its reports are stored once (Publish, Correlate).
type Queue struct {
	Reporter providers.QueueReporter
	Account  string
	Provider string
	// Limiter is the account's: the poll and the completion are one
	// provider request each.
	Limiter ratelimit.Limiter
	Store   Store
	Now     func() time.Time
}

// Poll implements Source: one batch, whatever limit (the provider decides
// its size).
func (q *Queue) Poll(ctx context.Context, cursor []byte, _ int) (*Page, error) {
	if err := q.Limiter.Wait(ctx, 0); err != nil {
		return nil, err
	}
	b, err := q.Reporter.NextReports(ctx)
	if err != nil {
		return nil, err
	}
	if b.Group == "" {
		return &Page{Next: cursor}, nil
	}
	// The event's kind comes from the recipient's accepted result; this
	// one is for a recipient without one.
	evs, err := Correlate(ctx, q.Store, q.Account, q.Provider, job.Kind(""), b.Reports, q.Now())
	if err != nil {
		return nil, err
	}
	return &Page{Reports: evs, Next: []byte(b.Group), More: b.Full, Complete: func(ctx context.Context) error {
		if err := q.Limiter.Wait(ctx, 0); err != nil {
			return err
		}
		return q.Reporter.CompleteReports(ctx, b.Group)
	}}, nil
}
