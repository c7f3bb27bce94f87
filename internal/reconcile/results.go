package reconcile

import (
	"context"
	"time"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// JobResults calls each with the data of every result event stored for
// job jobID of account, oldest first.
func (r *Records) JobResults(account, jobID string, each func([]byte)) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.readResults(ctx, streams.JobResultsFilter(account, jobID), each)
}
