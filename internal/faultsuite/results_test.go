package faultsuite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// results is what the results stream holds, read incrementally.
type results struct {
	lastSeq uint64
	events  int
	byKey   map[string]*recipientResults // "job/index"
}

type recipientResults struct {
	statuses []result.Status // in stream order, one per event
	reasons  []result.Reason
	attempts []int // provider calls made for the recipient, per event
}

// distinct returns the distinct statuses of a recipient's results.
func (r *recipientResults) distinct() []result.Status {
	seen := map[result.Status]bool{}
	var out []result.Status
	for _, s := range r.statuses {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func newResults() *results { return &results{byKey: map[string]*recipientResults{}} }

// read adds the events stored since the last read.
func (rs *results) read(ctx context.Context, js jetstream.JetStream) error {
	cons, err := js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{streams.ResultsPrefix + ".>"},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       rs.lastSeq + 1,
		InactiveThreshold: 5 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("results consumer: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("results consumer info: %w", err)
	}
	for remaining := info.NumPending; remaining > 0; {
		batch, err := cons.Fetch(int(min(remaining, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("fetch results: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			rs.lastSeq = md.Sequence.Stream
			rs.events++
			var ev result.Event
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				return fmt.Errorf("result at seq %d: %w", md.Sequence.Stream, err)
			}
			k := resultKey(ev.JobID, ev.RecipientIndex)
			r := rs.byKey[k]
			if r == nil {
				r = &recipientResults{}
				rs.byKey[k] = r
			}
			r.statuses = append(r.statuses, ev.Status)
			r.reasons = append(r.reasons, ev.Reason)
			r.attempts = append(r.attempts, ev.Attempt)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("fetch results: %w", err)
		}
		if got == 0 {
			return errors.New("fetch results: no progress")
		}
		remaining -= uint64(min(uint64(got), remaining))
	}
	return nil
}

// missing lists the recipients of refs without a result.
func (rs *results) missing(refs []recipientRef) []recipientRef {
	var out []recipientRef
	for _, r := range refs {
		if rs.byKey[r.key()] == nil {
			out = append(out, r)
		}
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
