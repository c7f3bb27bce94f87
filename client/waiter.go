package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// MaxJobFilters is the most jobs a Waiter reads with one subject filter
// each; see Waiter.
const MaxJobFilters = 256

// maxAccountFilters is the most accounts a Waiter reads with one subject
// filter each; beyond, it reads every result.
const maxAccountFilters = 64

// Waiter waits for the results of many jobs, for a producer that publishes
// a batch and then follows it: make it before the first publish, Add each
// job whose publish was acked, then range over Results.
//
// NewWaiter pins the results stream's position. Every result of a job
// published after that is stored after it, so Results reads from there
// with an ordered consumer filtered to the waited accounts: nothing is
// lost while it starts, across a reconnect, or to a slow reader. While it
// waits for at most MaxJobFilters jobs it reads instead every stored result
// of exactly those jobs, which also finds the results of a job published
// before NewWaiter (one acked as a duplicate). Beyond MaxJobFilters jobs,
// such a job's results stored before the pin are not seen: do not Add it.
//
// A Waiter is not safe for concurrent use: Add before Results.
type Waiter struct {
	c        *Client
	startSeq uint64

	jobs      map[string]*waited
	order     []string // job ids, as added
	remaining int      // recipients without a result
}

// waited is one job's recipients.
type waited struct {
	account string
	n       int
	seen    []uint64 // bit i: recipient i has its result
	left    int
}

// NewWaiter pins the results stream's position: see Waiter.
func (c *Client) NewWaiter(ctx context.Context) (*Waiter, error) {
	s, err := c.js.Stream(ctx, ResultsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = ErrNotSetUp
	}
	if err != nil {
		return nil, fmt.Errorf("talkrelay: look up stream %s: %w", ResultsStream, err)
	}
	return &Waiter{c: c, startSeq: s.CachedInfo().State.LastSeq + 1, jobs: map[string]*waited{}}, nil
}

// Add waits for the results of job jobID of account, a job of recipients
// recipients. A job id added before, or a job without recipients, is
// ignored.
func (w *Waiter) Add(account, jobID string, recipients int) {
	if _, ok := w.jobs[jobID]; ok || recipients < 1 {
		return
	}
	w.jobs[jobID] = &waited{account: account, n: recipients, seen: make([]uint64, (recipients+63)/64), left: recipients}
	w.order = append(w.order, jobID)
	w.remaining += recipients
}

// Jobs is the number of jobs added.
func (w *Waiter) Jobs() int { return len(w.order) }

// Remaining is the number of recipients without a result.
func (w *Waiter) Remaining() int { return w.remaining }

// Received is a result yielded by Waiter.Results.
type Received struct {
	Result
	// Data is the result event as stored.
	Data []byte
	// Settled is the number of recipients this result gives their result:
	// 1, or for a whole-job result (RecipientIndex -1) every recipient of
	// the job without one yet.
	Settled int
	// CaughtUp says that no other matching result was stored when this one
	// was delivered: a good moment to flush output.
	CaughtUp bool
}

// Results yields the first final result of each recipient of the added
// jobs, in stream order, and ends when every recipient has one. A result
// published again after a worker crash (the same Nats-Msg-Id), or a second
// result of a recipient, is skipped, as are results of other jobs. An
// *EventError is yielded for a message that is not a result event and the
// sequence goes on; any other error, ctx's included, is the last value
// yielded.
func (w *Waiter) Results(ctx context.Context) iter.Seq2[Received, error] {
	return func(yield func(Received, error) bool) {
		if w.remaining == 0 {
			return
		}
		for f, err := range follow[Result](ctx, w.c.js, ResultsStream, w.consumerConfig()) {
			if err != nil {
				if !yield(Received{}, err) {
					return
				}
				continue
			}
			r := f.v
			j := w.jobs[r.JobID]
			if j == nil || !r.Status.Final() {
				continue
			}
			n := j.mark(r.RecipientIndex)
			if n == 0 {
				continue
			}
			w.remaining -= n
			if !yield(Received{Result: r, Data: f.msg.Data(), Settled: n, CaughtUp: f.caughtUp()}, nil) || w.remaining == 0 {
				return
			}
		}
	}
}

// consumerConfig reads every stored result of each job while there are
// few, else the results stored since the pin of the waited accounts.
func (w *Waiter) consumerConfig() jetstream.OrderedConsumerConfig {
	return followConfig(streams.ResultsPrefix, w.startSeq, w.order, func(id string) string { return w.jobs[id].account })
}

// followConfig reads the events under prefix (results or reports) of the
// jobs order, whose accounts accountOf gives: every stored event of each
// job while there are at most MaxJobFilters, else those stored from
// startSeq on, of the jobs' accounts (of every account beyond
// maxAccountFilters). Event subjects are <prefix>.<account>.<state>.<job>.
func followConfig(prefix string, startSeq uint64, order []string, accountOf func(id string) string) jetstream.OrderedConsumerConfig {
	if len(order) <= MaxJobFilters {
		cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
		for _, id := range order {
			cfg.FilterSubjects = append(cfg.FilterSubjects, prefix+"."+streams.Token(accountOf(id))+".*."+streams.JobToken(id))
		}
		return cfg
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: startSeq}
	accounts := map[string]bool{}
	for _, id := range order {
		accounts[streams.Token(accountOf(id))] = true
	}
	if len(accounts) > maxAccountFilters {
		cfg.FilterSubjects = []string{prefix + ".>"}
		return cfg
	}
	for _, a := range slices.Sorted(maps.Keys(accounts)) {
		// ".>": event subjects carry the state and the job after the
		// account.
		cfg.FilterSubjects = append(cfg.FilterSubjects, prefix+"."+a+".>")
	}
	return cfg
}

// mark records the result of recipient i (-1: the whole job) and returns
// how many recipients it settles.
func (j *waited) mark(i int) int {
	if i == -1 {
		n := 0
		for k := range j.n {
			n += j.mark(k)
		}
		return n
	}
	if i < 0 || i >= j.n || j.seen[i/64]&(1<<(i%64)) != 0 {
		return 0
	}
	j.seen[i/64] |= 1 << (i % 64)
	j.left--
	return 1
}

// Unfinished is a job with recipients still without a result.
type Unfinished struct {
	Account, JobID string
	Recipients     int
	// Missing lists the indices of the recipients without a result.
	Missing []int
}

// Unfinished yields the added jobs with recipients still without a
// result, in the order they were added.
func (w *Waiter) Unfinished() iter.Seq[Unfinished] {
	return func(yield func(Unfinished) bool) {
		for _, id := range w.order {
			j := w.jobs[id]
			if j.left == 0 {
				continue
			}
			u := Unfinished{Account: j.account, JobID: id, Recipients: j.n, Missing: make([]int, 0, j.left)}
			for i := range j.n {
				if j.seen[i/64]&(1<<(i%64)) == 0 {
					u.Missing = append(u.Missing, i)
				}
			}
			if !yield(u) {
				return
			}
		}
	}
}
