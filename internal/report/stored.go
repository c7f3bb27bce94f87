package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Store reads what JetStream holds of a job (reconcile.Records): its
// accepted results, which give a report the recipient's ref, masked phone
// and the job's metadata, its canceled ones (a recipient cancelled after
// it was accepted gets no report), and its reports, so that a recipient
// is never reported twice, even after the reports stream's duplicate
// window.
type Store interface {
	AcceptedResults(ctx context.Context, account, jobID string, each func([]byte)) error
	CanceledResults(ctx context.Context, account, jobID string, each func([]byte)) error
	Reports(ctx context.Context, account, jobID string, each func([]byte)) error
	// AcceptedAfter walks account's accepted results stored after a
	// results stream sequence, batch a read, until each returns false.
	AcceptedAfter(ctx context.Context, account string, seq uint64, batch int, each func(seq uint64, data []byte) bool) error
}

// jobs caches, for one poll, what the store holds of each job.
type jobs struct {
	store    Store
	account  string
	accepted map[string]map[int]*result.Event
	reported *indexes
}

func newJobs(store Store, account string) *jobs {
	return &jobs{store: store, account: account, accepted: map[string]map[int]*result.Event{}, reported: newIndexes(store, Store.Reports, "reports", account)}
}

// acceptedResult is the accepted result of recipient index of job, or nil.
func (j *jobs) acceptedResult(ctx context.Context, jobID string, index int) (*result.Event, error) {
	byIndex, ok := j.accepted[jobID]
	if !ok {
		var err error
		if byIndex, err = j.loadAccepted(ctx, jobID, nil); err != nil {
			return nil, err
		}
		j.accepted[jobID] = byIndex
	}
	return byIndex[index], nil
}

// loadAccepted reads job's accepted results by recipient index, only
// those of want unless it is nil: a page of reports of a 50,000-recipient
// job keeps the results it reports, not the job's. It is safe for
// concurrent use.
func (j *jobs) loadAccepted(ctx context.Context, jobID string, want map[int]bool) (map[int]*result.Event, error) {
	byIndex := map[int]*result.Event{}
	var ev result.Event
	err := j.store.AcceptedResults(ctx, j.account, jobID, func(data []byte) {
		ev = result.Event{}
		if json.Unmarshal(data, &ev) == nil && (want == nil || want[ev.RecipientIndex]) {
			kept := ev
			byIndex[ev.RecipientIndex] = &kept
		}
	})
	if err != nil {
		return nil, fmt.Errorf("report: read the results of job %s: %w", jobID, err)
	}
	return byIndex, nil
}

// prefetchReads is how many jobs prefetch reads at once.
const prefetchReads = 16

// prefetch reads, for the jobs of reps not read yet, the accepted results
// of the recipients reps names and the jobs' reports, prefetchReads jobs at
// once: a page of one-recipient jobs is one job a report, and reading them
// one after the other made each report wait for two round trips to the
// server.
func (j *jobs) prefetch(ctx context.Context, reps []providers.Report) error {
	type read struct {
		id       string
		want     map[int]bool
		accepted map[int]*result.Event
		reported map[int]bool
		err      error
	}
	var reads []*read
	byID := map[string]*read{}
	for i := range reps {
		id := reps[i].JobID
		if _, ok := j.accepted[id]; ok {
			continue
		}
		r := byID[id]
		if r == nil {
			r = &read{id: id, want: map[int]bool{}}
			byID[id] = r
			reads = append(reads, r)
		}
		r.want[reps[i].Index] = true
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, prefetchReads)
	for _, r := range reads {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if r.accepted, r.err = j.loadAccepted(ctx, r.id, r.want); r.err == nil {
				r.reported, r.err = j.reported.load(ctx, r.id)
			}
		})
	}
	wg.Wait()
	for _, r := range reads {
		if r.err != nil {
			return r.err
		}
		j.accepted[r.id], j.reported.byJob[r.id] = r.accepted, r.reported
	}
	return nil
}

// isReported says whether recipient index of job has a report stored.
func (j *jobs) isReported(ctx context.Context, jobID string, index int) (bool, error) {
	return j.reported.has(ctx, jobID, index)
}

// pageOfAccepted is a page of the reports of account's accepted results
// stored after cursor (a results stream sequence), at most limit results:
// report returns a result's report (nil: the result is passed without
// one), or due false to stop before it.
func pageOfAccepted(ctx context.Context, store Store, account string, cursor []byte, limit int,
	report func(*result.Event) (ev *Event, due bool, err error)) (*Page, error) {
	seq, err := parseSeq(cursor)
	if err != nil {
		return nil, err
	}
	page := &Page{Next: cursor}
	last, full, err := acceptedAfter(ctx, store, account, seq, limit, func(r *result.Event) (bool, error) {
		ev, due, err := report(r)
		if ev != nil {
			page.Reports = append(page.Reports, ev)
		}
		return due, err
	})
	if err != nil {
		return nil, err
	}
	if last != seq {
		page.Next = []byte(strconv.FormatUint(last, 10))
	}
	page.More = full
	return page, nil
}

// parseSeq reads a results stream sequence cursor; nil is 0.
func parseSeq(cursor []byte) (uint64, error) {
	if len(cursor) == 0 {
		return 0, nil
	}
	seq, err := strconv.ParseUint(string(cursor), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("report: cursor %q: %w", cursor, err)
	}
	return seq, nil
}

// acceptedAfter walks account's accepted results stored after results
// stream sequence seq, in order, and offers each to take, which returns
// false to stop before it (not due yet). It stops after limit taken
// results too (full), or when there are no more. last is the sequence of
// the last result taken (seq when none was).
func acceptedAfter(ctx context.Context, store Store, account string, seq uint64, limit int, take func(*result.Event) (bool, error)) (last uint64, full bool, err error) {
	last, n := seq, 0
	var stop error
	err = store.AcceptedAfter(ctx, account, seq, limit+1, func(s uint64, data []byte) bool {
		if n == limit {
			full = true
			return false
		}
		var r result.Event
		if err := json.Unmarshal(data, &r); err != nil {
			stop = fmt.Errorf("report: result %d: %w", s, err)
			return false
		}
		if r.JobID == "" || r.RecipientIndex < 0 {
			stop = fmt.Errorf("report: result %d: accepted without job id or recipient index", s)
			return false
		}
		ok, err := take(&r)
		if err != nil || !ok {
			stop = err
			return false
		}
		last, n = s, n+1
		return true
	})
	if err == nil {
		err = stop
	}
	return last, full, err
}
