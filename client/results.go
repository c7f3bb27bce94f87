package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// ResultsOption picks where Results starts reading. By default it reads
// every result the stream still holds (7 days by default), then new ones.
type ResultsOption func(*jetstream.OrderedConsumerConfig)

// Since starts at the first result stored at or after t.
func Since(t time.Time) ResultsOption {
	return func(c *jetstream.OrderedConsumerConfig) {
		c.DeliverPolicy, c.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
}

// NewOnly skips the stored results: only results stored from now on.
func NewOnly() ResultsOption {
	return func(c *jetstream.OrderedConsumerConfig) { c.DeliverPolicy = jetstream.DeliverNewPolicy }
}

// EventError is a message on a results subject that is not a result event.
// Results yields it and goes on.
type EventError struct {
	Subject string
	Err     error
}

func (e *EventError) Error() string {
	return "talkrelay: a message on " + e.Subject + " is not a result event: " + e.Err.Error()
}

func (e *EventError) Unwrap() error { return e.Err }

// Results yields the result events on subjects matching filter (see
// JobResultsSubject and ResultsSubject), oldest first, until ctx ends or
// the loop breaks. Each result message is yielded once, by its Nats-Msg-Id
// (<job_id>/<recipient_index>): a recipient's result published again after
// a worker crash is skipped, which costs memory of one id per result seen.
//
// It reads with an ordered consumer, which nothing needs to clean up and
// which resumes across reconnects; a service that must process every result
// exactly once across its own restarts uses a durable consumer instead
// (examples/consume-results). An *EventError is yielded for a message
// that is not a result and the sequence goes on; any other error, ctx's
// included, is the last value yielded.
func (c *Client) Results(ctx context.Context, filter string, opts ...ResultsOption) iter.Seq2[Result, error] {
	return func(yield func(Result, error) bool) {
		cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
		for _, o := range opts {
			o(&cfg)
		}
		seen := map[string]struct{}{}
		for f, err := range follow[Result](ctx, c.js, ResultsStream, cfg) {
			if err != nil {
				if !yield(Result{}, err) {
					return
				}
				continue
			}
			r, msg := f.v, f.msg
			id := msg.Headers().Get(jetstream.MsgIDHeader)
			if id == "" {
				id = r.JobID + "/" + strconv.Itoa(r.RecipientIndex)
			}
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Wait returns the results of job jobID of account, a job of recipients
// recipients, once each recipient has a final one, ordered by index. A job rejected as a whole before its recipients could be read
// has one result, with RecipientIndex -1, and Wait returns it alone.
//
// Wait reads every result of the job the stream holds, so it finds them
// however long ago the job ran, and it can be called again, by any
// process, with the same answer. When ctx ends first it returns the results
// it has and an error wrapping ctx's.
func (c *Client) Wait(ctx context.Context, account, jobID string, recipients int) ([]Result, error) {
	if streams.JobToken(jobID) == streams.NoAccount {
		return nil, fmt.Errorf("talkrelay: wait: %q is not a valid job id", jobID)
	}
	if recipients < 1 {
		return nil, fmt.Errorf("talkrelay: wait for job %s: %d recipients", jobID, recipients)
	}
	got := make(map[int]Result, recipients)
	var err error
	for r, rerr := range c.Results(ctx, JobResultsSubject(account, jobID)) {
		var ee *EventError
		if errors.As(rerr, &ee) {
			continue
		}
		if rerr != nil {
			err = rerr
			break
		}
		i := r.RecipientIndex
		if r.JobID != jobID || !r.Status.Final() || i < -1 || i >= recipients {
			continue
		}
		if i == -1 {
			return []Result{r}, nil
		}
		if _, ok := got[i]; ok {
			continue // the first final result of a recipient is its result
		}
		got[i] = r
		if len(got) == recipients {
			break
		}
	}
	out := make([]Result, 0, len(got))
	for _, i := range slices.Sorted(maps.Keys(got)) {
		out = append(out, got[i])
	}
	if len(out) < recipients && ctx.Err() == nil {
		return out, err // the stream could not be read: err says why
	}
	if len(out) < recipients {
		return out, fmt.Errorf("talkrelay: job %s: %d of %d recipients have no result: %w", jobID, recipients-len(out), recipients, err)
	}
	return out, nil
}

// WaitJob is Wait for the job j as published.
func (c *Client) WaitJob(ctx context.Context, j *Job) ([]Result, error) {
	return c.Wait(ctx, j.Account, j.ID, len(j.Recipients))
}
