// Package dedupe tells whether a send job that arrives fresh (first
// delivery) was already handled, so that a job re-published with an id the
// jobs stream has forgotten is not sent twice.
//
// Why: TALKRELAY_JOBS is a work queue, so an acknowledged job is deleted, and
// JetStream rebuilds its Nats-Msg-Id duplicate window from stored messages
// only. After a NATS restart (or a worker restart with the embedded server,
// or a leader change onto a restarted node) a producer re-publishing the same
// job id is accepted again. A handled job leaves traces that outlive it:
//
//	talkrelay.results.<account>.<status>.<job token>   result events (TALKRELAY_RESULTS)
//	$KV.talkrelay_sends.<job key>.e.<...>              follow-up envelope records (KV_talkrelay_sends)
//	$KV.talkrelay_sends.<job key>.b.<batch>            send records of versions before request records
//
// A job is acknowledged only once every recipient has a result or a place in
// a follow-up envelope, so an acknowledged job has one of the first two.
// A job not acknowledged yet is still stored in the jobs stream, whose
// rebuilt duplicate window then still holds its id: JetStream itself drops
// the copy. The send records of provider requests
// (request.<account>.<batch>, package reconcile) are not keyed by job and
// are not read here.
//
// A job with any such trace stored within the window (the jobs stream's
// duplicate window, streams.jobs_duplicate_window) is a duplicate. The
// stored message's timestamp is compared, not anything in its payload. Any
// message counts, a KV delete or purge marker too: it was written because
// the job was handled.
//
// How: one JetStream batched direct get (ADR-31; server 2.11+, written
// against nats-server 2.15.2) per stream for a whole group of jobs:
//
//	PUB $JS.API.DIRECT.GET.<stream> <inbox>.<n>
//	{"multi_last":["talkrelay.results.shop.*.order-1", ...]}
//
// The server answers with the last stored message of every subject that
// matches one of the filters (wildcards allowed), in sequence order, each
// carrying the headers Nats-Subject, Nats-Sequence and Nats-Time-Stamp,
// then a "204 EOB" status message; or a single "404 No Results" when nothing
// matches. Only the last message per subject is needed: it is the newest, so
// if it is older than the window every earlier one is too. No consumer is
// created and nothing is written. Direct gets are served by any replica of
// the stream (a follower joins once it is 90% caught up), which spreads the
// load but means an answer can miss a trace stored a moment before; the
// duplicates this guards against come much later than that.
//
// Cost: per Find call, one request per stream (two in all) and one reply
// message per trace found plus one terminating status, whatever the number
// of jobs. For the usual case, fresh jobs that are not duplicates, the reply
// is a lone 404 and the server only walks its per-subject index. With 256
// jobs per call that is 2/256 requests per job; BenchmarkSeen256 measured
// about 0.75 ms a call (3 µs a job) against an embedded server on 2 cores,
// client and server together, 1 ms with a tenth of the jobs seen. More
// requests are made only when the server needs them:
//   - a request body larger than the connection's max_payload is split (a
//     job's filter is at most about 220 bytes, so that takes thousands of
//     jobs at the default 1 MiB);
//   - the server refuses a request whose filters match more than 1024
//     subjects ("413 Too Many Results", however old the messages are); the
//     group is then halved until each half fits, and a single job whose own
//     traces exceed the cap (a job with more than 1024 envelope records) is settled
//     by one "next_by_subj" direct get from the start of the window;
//   - an answer cut short by the server's max bytes (max_pending, 64 MiB by
//     default) is continued from the last sequence it returned.
//
// Errors (timeout, no responders because the stream is missing or lacks
// AllowDirect, any unexpected status) are returned as errors, never as "not
// seen": the caller cannot tell, and should hold the jobs back and retry.
//
// Streams must allow direct gets (AllowDirect). KV buckets always do; the
// results stream must be configured with it.
package dedupe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// DefaultAPIPrefix is the JetStream API subject prefix without a domain.
const DefaultAPIPrefix = streams.DefaultAPIPrefix

// sendsStream stores the send-records bucket.
const sendsStream = "KV_" + streams.SendsBucket

// DefaultTimeout bounds a Find call whose context has no deadline.
const DefaultTimeout = 5 * time.Second

// MaxResults is how many subjects one multi_last request may match before
// nats-server refuses it with "413 Too Many Results" (maxAllowedResponses,
// a constant in nats-server 2.15.2).
const MaxResults = 1024

// JobKey is the send-records key prefix of a job: streams.HashToken of its
// id. The worker's send-record keys (<job key>.b.<batch>, <job key>.e.<...>
// in the talkrelay_sends bucket) use this function, so that Find looks
// where the worker writes.
func JobKey(jobID string) string { return streams.HashToken(jobID) }

// Ref identifies a job to check.
type Ref struct {
	Account string
	JobID   string
}

// Options configure a Checker. The zero value uses the defaults.
type Options struct {
	// APIPrefix is the JetStream API subject prefix: DefaultAPIPrefix
	// ("$JS.API") when empty, "$JS.<domain>.API" for a JetStream domain (streams.APIPrefix).
	APIPrefix string
	// Window is how far back a trace makes a job a duplicate: the jobs
	// stream's duplicate window (default streams.DefaultConfig's, 1h).
	Window time.Duration
	// Timeout bounds a Find call whose context has no deadline (default
	// DefaultTimeout).
	Timeout time.Duration
}

// Checker answers Find for many jobs at once. It is safe for concurrent
// use. It owns one subscription on the connection, made on first use, for
// the replies; Close removes it.
type Checker struct {
	nc      *nats.Conn
	prefix  string
	window  time.Duration
	timeout time.Duration
	// maxBytes, if set, is sent as max_bytes: tests use it to make the
	// server cut answers short.
	maxBytes int

	mu      sync.Mutex
	sub     *nats.Subscription
	inbox   string // replies arrive on inbox + "." + n
	pending map[string]*call
	next    atomic.Uint64
	closed  bool
}

// New returns a Checker that sends its requests on nc.
func New(nc *nats.Conn, opts Options) *Checker {
	c := &Checker{
		nc:      nc,
		prefix:  strings.TrimSuffix(opts.APIPrefix, "."),
		window:  opts.Window,
		timeout: opts.Timeout,
		pending: map[string]*call{},
	}
	if c.prefix == "" {
		c.prefix = DefaultAPIPrefix
	}
	if c.window <= 0 {
		c.window = streams.DefaultConfig().JobsDuplicateWindow
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c
}

// Close removes the Checker's reply subscription; Find fails afterwards.
// It does not close the connection.
func (c *Checker) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, p := range c.pending {
		p.finish(answer{}, errClosed)
	}
	clear(c.pending)
	if c.sub == nil {
		return nil
	}
	err := c.sub.Unsubscribe()
	c.sub = nil
	return err
}

var errClosed = errors.New("dedupe: checker closed")

// ErrUnavailable wraps a "no responders" answer: the stream does not exist,
// does not allow direct gets, or none of its replicas is ready.
var ErrUnavailable = errors.New("no responders: the stream is missing, lacks AllowDirect, or has no ready replica")

// Find reports, for each ref, the traces the job left stored no earlier
// than now minus the window — result events and the send records keyed by
// job (envelope records, older versions' records) — as the
// job-message sequences they name (see streams.HeaderJobSeq; 0 for a trace
// that names none); empty when there are none. The worker tells with it a
// job published again (traces of other messages) from the same message
// delivered again (traces of itself). It makes one direct get request per
// stream for all refs (more only in the cases the package doc lists), both
// streams at once. On any error it returns nil and the error: a job is
// never reported without traces unless both streams said so.
func (c *Checker) Find(ctx context.Context, refs []Ref, now time.Time) ([][]uint64, error) {
	found := make([][]uint64, len(refs))
	if len(refs) == 0 {
		return found, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	cutoff := now.Add(-c.window)

	// Group refs by the filter of each stream that matches their traces.
	res := newLookup(len(refs))
	snd := newLookup(len(refs))
	for i, r := range refs {
		// An id that is no valid job id has the token "_", shared with
		// every other such id: its results say nothing about this job.
		if streams.JobToken(r.JobID) != streams.NoAccount {
			res.add(streams.JobResultsFilter(r.Account, r.JobID), i)
		}
		snd.add(sendsFilter(r.JobID), i)
	}

	var wg sync.WaitGroup
	var resErr, sndErr error
	run := func(l *lookup, stream string, key func(string) (string, bool), errp *error) {
		defer wg.Done()
		*errp = c.query(ctx, stream, l, key, cutoff)
	}
	wg.Add(2)
	go run(res, streams.ResultsStream, resultsFilter, &resErr)
	go run(snd, sendsStream, sendsFilterOf, &sndErr)
	wg.Wait()
	switch {
	case resErr != nil && sndErr != nil:
		return nil, fmt.Errorf("%w; %w", resErr, sndErr)
	case resErr != nil:
		return nil, resErr
	case sndErr != nil:
		return nil, sndErr
	}
	for _, l := range []*lookup{res, snd} {
		if len(l.hit) == 0 {
			continue
		}
		for i, g := range l.groupOf {
			if g >= 0 {
				found[i] = append(found[i], l.hit[g]...)
			}
		}
	}
	return found, nil
}

// resultsFilter maps talkrelay.results.<account>.<status>.<job> to the
// filter of the job's results, talkrelay.results.<account>.*.<job>.
func resultsFilter(subj string) (string, bool) {
	rest, ok := strings.CutPrefix(subj, streams.ResultsPrefix+".")
	if !ok {
		return "", false
	}
	acct, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	_, job, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(job, '.') >= 0 {
		return "", false
	}
	return streams.ResultsPrefix + "." + acct + ".*." + job, true
}

// sendsPrefix starts the subjects of the send-records bucket.
const sendsPrefix = "$KV." + streams.SendsBucket + "."

// sendsFilter matches the send records keyed by job jobID:
// $KV.talkrelay_sends.<JobKey(jobID)>.>, built in one allocation.
func sendsFilter(jobID string) string {
	var b [len(sendsPrefix) + streams.HashTokenLen + len(".>")]byte
	return string(append(streams.AppendHashToken(append(b[:0], sendsPrefix...), jobID), ".>"...))
}

// sendsFilterOf maps $KV.talkrelay_sends.<job key>.<...> to the filter of
// the job's send records, $KV.talkrelay_sends.<job key>.>.
func sendsFilterOf(subj string) (string, bool) {
	rest, ok := strings.CutPrefix(subj, sendsPrefix)
	if !ok {
		return "", false
	}
	k, _, ok := strings.Cut(rest, ".")
	return sendsPrefix + k + ".>", ok
}

// lookup holds one stream's filters: group g has filter filters[g], and
// hit[g] holds the job sequences of the traces within the window found for
// it (made for the first: fresh jobs have none); ref i wants group
// groupOf[i] (-1: none).
type lookup struct {
	byKey   map[string]int // a group by its key: its filter
	filters []string
	groupOf []int
	hit     map[int][]uint64
}

func newLookup(n int) *lookup {
	l := &lookup{byKey: make(map[string]int, n), filters: make([]string, 0, n), groupOf: make([]int, n)}
	for i := range l.groupOf {
		l.groupOf[i] = -1
	}
	return l
}

func (l *lookup) add(filter string, ref int) {
	g, ok := l.byKey[filter]
	if !ok {
		g = len(l.filters)
		l.byKey[filter] = g
		l.filters = append(l.filters, filter)
	}
	l.groupOf[ref] = g
}

// query settles every group of l against stream.
func (c *Checker) query(ctx context.Context, stream string, l *lookup, key func(string) (string, bool), cutoff time.Time) error {
	if len(l.filters) == 0 {
		return nil
	}
	groups := make([]int, len(l.filters))
	for g := range groups {
		groups[g] = g
	}
	for _, part := range c.split(l, groups) {
		if err := c.queryGroups(ctx, stream, l, part, key, cutoff); err != nil {
			return fmt.Errorf("dedupe: direct get from %s: %w", stream, err)
		}
	}
	return nil
}

// split cuts groups into runs whose request bodies fit the connection's
// max_payload.
func (c *Checker) split(l *lookup, groups []int) [][]int {
	limit := int(c.nc.MaxPayload()) - 64 // room for the rest of the body
	if limit <= 0 {
		limit = 1 << 20
	}
	var out [][]int
	start, size := 0, 0
	for i, g := range groups {
		n := len(l.filters[g]) + 3 // quotes and comma
		if size+n > limit && i > start {
			out = append(out, groups[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(out, groups[start:])
}

// queryGroups asks one multi_last request for groups, paging if the server
// cut the answer short and halving the groups if it refused them as too
// many results.
func (c *Checker) queryGroups(ctx context.Context, stream string, l *lookup, groups []int, key func(string) (string, bool), cutoff time.Time) error {
	filters := make([]string, len(groups))
	for i, g := range groups {
		filters[i] = l.filters[g]
	}
	req := multiLastRequest{MultiLast: filters, MaxBytes: c.maxBytes}
	for {
		a, err := c.request(ctx, stream, req)
		if err != nil {
			return err
		}
		switch a.status {
		case statusTooMany:
			if len(groups) == 1 {
				return c.queryOne(ctx, stream, l, groups[0], key, cutoff)
			}
			h := len(groups) / 2
			if err := c.queryGroups(ctx, stream, l, groups[:h], key, cutoff); err != nil {
				return err
			}
			return c.queryGroups(ctx, stream, l, groups[h:], key, cutoff)
		case statusNotFound:
			if a.desc == descNoResults {
				return nil
			}
			// A matched message failed to load: the server folds that
			// into a 404 of another text.
			return fmt.Errorf("server answered 404 %s", a.desc)
		}
		if err := l.mark(a.msgs, key, cutoff); err != nil {
			return err
		}
		if a.pending == 0 {
			return nil
		}
		// Cut short by max bytes: go on after the last message, over the
		// same snapshot.
		if a.lastSeq == 0 || a.upToSeq == 0 {
			return fmt.Errorf("end of batch with %d pending but no position to continue from", a.pending)
		}
		req.Seq, req.UpToSeq = a.lastSeq+1, a.upToSeq
	}
}

// queryOne settles one group whose subjects alone are too many for
// multi_last: it asks for the first message on the filter stored at or after
// the cutoff.
func (c *Checker) queryOne(ctx context.Context, stream string, l *lookup, g int, key func(string) (string, bool), cutoff time.Time) error {
	t := cutoff.UTC()
	a, err := c.request(ctx, stream, nextRequest{NextFor: l.filters[g], StartTime: &t, Batch: 1})
	if err != nil {
		return err
	}
	switch a.status {
	case statusNotFound: // nothing stored on the filter since the cutoff
		return nil
	case statusTooMany:
		return fmt.Errorf("server answered 413 %s to a single-subject get", a.desc)
	}
	return l.mark(a.msgs, key, cutoff)
}

// mark sets hit for the groups of the messages stored at or after cutoff.
func (l *lookup) mark(msgs []stored, key func(string) (string, bool), cutoff time.Time) error {
	for _, m := range msgs {
		ts, err := time.Parse(time.RFC3339Nano, m.ts)
		if err != nil {
			return fmt.Errorf("bad %s header %q on %s", hdrTimeStamp, m.ts, m.subj)
		}
		if ts.Before(cutoff) {
			continue
		}
		k, ok := key(m.subj)
		if !ok {
			return fmt.Errorf("answer on unexpected subject %q", m.subj)
		}
		if g, ok := l.byKey[k]; ok {
			if l.hit == nil {
				l.hit = map[int][]uint64{}
			}
			l.hit[g] = append(l.hit[g], m.jobSeq)
		}
	}
	return nil
}

// multiLastRequest is the body of a batched direct get (nats-server's
// JSApiMsgGetRequest): the last message of each subject matching
// MultiLast, from sequence Seq, up to sequence UpToSeq.
type multiLastRequest struct {
	MultiLast []string `json:"multi_last"`
	Seq       uint64   `json:"seq,omitempty"`
	UpToSeq   uint64   `json:"up_to_seq,omitempty"`
	MaxBytes  int      `json:"max_bytes,omitempty"`
}

// nextRequest is a direct get of the first message on NextFor stored at or
// after StartTime. Batch 1 (instead of none) makes the server end the answer
// with an EOB status, as it does multi_last's.
type nextRequest struct {
	NextFor   string     `json:"next_by_subj"`
	StartTime *time.Time `json:"start_time"`
	Batch     int        `json:"batch"`
}
