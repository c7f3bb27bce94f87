package report

import (
	"cmp"
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
	// Grace is how long after the provider's time of a report a batch
	// waits for the recipient's accepted result (default a minute): a
	// report can overtake the result of its own send, and the result is
	// where its ref and metadata come from. Past it, the report goes
	// without them.
	Grace time.Duration
	Now   func() time.Time
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
	now := q.Now()
	if wait, err := q.resultsMissing(ctx, b.Reports, now); err != nil || wait {
		// Not completed: the provider hands the batch out again.
		return &Page{Next: cursor}, err
	}
	// The event's kind comes from the recipient's accepted result; this
	// one is for a recipient without one.
	evs, err := Correlate(ctx, q.Store, q.Account, q.Provider, job.Kind(""), b.Reports, now)
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

// resultsMissing says whether a report in reps is younger than Grace (by
// the provider's time; one without is not waited for) and its
// recipient's accepted result is not stored yet.
func (q *Queue) resultsMissing(ctx context.Context, reps []providers.Report, now time.Time) (bool, error) {
	grace := cmp.Or(q.Grace, time.Minute)
	stored := newJobs(q.Store, q.Account)
	for i := range reps {
		r := &reps[i]
		if r.At.IsZero() || now.Sub(r.At) > grace {
			continue
		}
		res, err := stored.acceptedResult(ctx, r.JobID, r.Index)
		if err != nil || res == nil {
			return err == nil, err
		}
	}
	return false, nil
}
