package reconcile

import (
	"context"
	"time"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Reports calls each with every delivery report of job stored in the
// reports stream, read as AcceptedResults reads: the pollers skip a
// recipient that has one.
func (r *Records) Reports(ctx context.Context, account, jobID string, each func([]byte)) error {
	return r.readStream(ctx, streams.ReportsStream, streams.JobReportsFilter(account, jobID), time.Time{}, each)
}

// AcceptedAfter calls each with the results stream sequence and data of
// every accepted result of account stored after sequence seq, in order,
// until each returns false: the report pollers walk an account's accepted
// messages with it, batch a request.
func (r *Records) AcceptedAfter(ctx context.Context, account string, seq uint64, batch int, each func(seq uint64, data []byte) bool) error {
	filter := streams.ResultsPrefix + "." + streams.Token(account) + "." + string(result.Accepted) + ".>"
	return r.walkStream(ctx, streams.ResultsStream, filter, time.Time{}, seq+1, min(batch, finalsBatch), each)
}

// CanceledResults calls each with every canceled result of job stored in
// the results stream, read like AcceptedResults: the report pollers leave
// out a recipient cancelled after it was accepted (a provider-side
// reservation cancelled).
func (r *Records) CanceledResults(ctx context.Context, account, jobID string, each func([]byte)) error {
	return r.readStream(ctx, streams.ResultsStream, streams.ResultSubject(account, string(result.Canceled), jobID), time.Time{}, each)
}

// AcceptedResults calls each with every accepted result of job stored in
// the results stream, read with batched direct gets (no consumer). The
// report pollers read them to give a provider's report the job's ref and
// metadata.
func (r *Records) AcceptedResults(ctx context.Context, account, jobID string, each func([]byte)) error {
	return r.readStream(ctx, streams.ResultsStream, streams.ResultSubject(account, string(result.Accepted), jobID), time.Time{}, each)
}
