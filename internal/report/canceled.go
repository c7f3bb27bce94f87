package report

import (
	"context"
	"encoding/json"
	"fmt"
)

// A recipient whose final result is canceled — a provider-side reservation
// cancelled after it was accepted — gets no report: its message was never
// sent. Window leaves out the provider's report of the cancellation
// (providers.Report.Canceled) and Expiry does not expire it.

// canceled says, for one poll, which recipients of each job have a
// canceled result.
type canceled struct {
	store   Store
	account string
	byJob   map[string]map[int]bool
}

func newCanceled(store Store, account string) *canceled {
	return &canceled{store: store, account: account, byJob: map[string]map[int]bool{}}
}

// is reports whether recipient index of job has a canceled result: one
// read of the job's canceled results a poll.
func (c *canceled) is(ctx context.Context, jobID string, index int) (bool, error) {
	byIndex, ok := c.byJob[jobID]
	if !ok {
		byIndex = map[int]bool{}
		err := c.store.CanceledResults(ctx, c.account, jobID, func(data []byte) {
			var ev struct {
				Index int `json:"recipient_index"`
			}
			if json.Unmarshal(data, &ev) == nil {
				byIndex[ev.Index] = true
			}
		})
		if err != nil {
			return false, fmt.Errorf("report: read the canceled results of job %s: %w", jobID, err)
		}
		c.byJob[jobID] = byIndex
	}
	return byIndex[index], nil
}
