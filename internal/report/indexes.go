package report

import (
	"context"
	"encoding/json"
	"fmt"
)

// indexes says, for one poll, which recipients of each job one kind of
// stored record names by its recipient_index: the job's reports (a
// recipient is reported once), or its canceled results (a recipient
// cancelled after it was accepted — a provider-side reservation cancelled
// — gets no report, its message never sent). One read per job a poll.
type indexes struct {
	store   Store
	read    func(s Store, ctx context.Context, account, jobID string, each func([]byte)) error // a method of Store
	what    string                                                                             // the records, for errors
	account string
	byJob   map[string]map[int]bool
}

func newIndexes(store Store, read func(Store, context.Context, string, string, func([]byte)) error, what, account string) *indexes {
	return &indexes{store: store, read: read, what: what, account: account, byJob: map[string]map[int]bool{}}
}

// has reports whether a record of recipient index of job is stored.
func (x *indexes) has(ctx context.Context, jobID string, index int) (bool, error) {
	byIndex, ok := x.byJob[jobID]
	if !ok {
		var err error
		if byIndex, err = x.load(ctx, jobID); err != nil {
			return false, err
		}
		x.byJob[jobID] = byIndex
	}
	return byIndex[index], nil
}

// load reads the indexes of job's records; it is safe for concurrent use.
func (x *indexes) load(ctx context.Context, jobID string) (map[int]bool, error) {
	byIndex := map[int]bool{}
	err := x.read(x.store, ctx, x.account, jobID, func(data []byte) {
		var ev struct {
			Index int `json:"recipient_index"`
		}
		if json.Unmarshal(data, &ev) == nil {
			byIndex[ev.Index] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("report: read the %s of job %s: %w", x.what, jobID, err)
	}
	return byIndex, nil
}

// canceledIn is the canceled results of account's jobs in store.
func canceledIn(store Store, account string) *indexes {
	return newIndexes(store, Store.CanceledResults, "canceled results", account)
}
