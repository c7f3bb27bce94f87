package report

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Requests is the report source of an account whose provider lists a
// send request's messages with their delivery state
// (providers.RequestReporter, NAVER). Its reports carry no id talkrelay
// chose, so it walks the account's accepted results in the results
// stream (like Sandbox), which hold the provider's request and message
// ids, and keeps in its cursor the requests with messages not reported
// yet: nothing is written per recipient on the send path. A message
// whose result has no request id is asked about alone (the provider's
// per-message query). A request is
// asked Settle after the time of its first accepted result, then every
// Recheck until each of its messages is terminal, or until Horizon has
// passed since that result (Expiry reports the rest expired). The cursor holds at most
// maxPendingMessages; past that the walk waits for requests to settle.
//
// A request is asked once all its messages are read, so that one question
// answers them all: a walk behind the stream (a campaign stored faster
// than it is read, a poller taking over) reads limit results a poll, and
// a request's results, stored together by the replica that sent it but
// among other requests' results, would straddle two polls. While the walk
// is behind, a request is asked only once gatherResults more of the
// account's results have been read after its last one; at the end of the
// stream (or with the cursor full) Settle alone holds it back, which
// leaves time to store the rest. A result stored later still (its publish
// retried) is asked about again with the request: a question more, not a
// report more.
type Requests struct {
	Reporter providers.RequestReporter
	JS       jetstream.JetStream
	Account  string
	Provider string
	// Limiter is the account's: each request asked is one provider request.
	Limiter ratelimit.Limiter
	Store   Store
	// Settle is how long after its accepted result a request is first asked
	// (default 10s); Recheck how long after an answer that left some of
	// its messages open it is asked again (default a minute).
	Settle, Recheck time.Duration
	Horizon         time.Duration
	Now             func() time.Time
}

// requestsCursor is Requests' cursor: the results stream sequence of the
// last accepted result read, how many were read (all along), and the
// requests still open.
type requestsCursor struct {
	Seq     uint64           `json:"seq"`
	Read    uint64           `json:"n,omitempty"`
	Pending []pendingRequest `json:"pending,omitempty"`
}

// pendingRequest is a provider request with messages not reported yet.
type pendingRequest struct {
	ID       string           `json:"r"`
	Kind     job.Kind         `json:"k"`
	Since    int64            `json:"s"`           // unix seconds of its first accepted result
	Due      int64            `json:"d"`           // unix seconds of its next question
	Last     uint64           `json:"l,omitempty"` // the cursor's Read at its last result
	Messages []pendingMessage `json:"m"`
}

type pendingMessage struct {
	ID    string `json:"m"` // the provider's message id
	Job   string `json:"j"`
	Index int    `json:"i"`
}

const (
	// maxPendingMessages bounds the cursor (about 60 bytes a message).
	maxPendingMessages = 5000
	// maxAskedPerPoll bounds the provider requests of one poll; the
	// poller asks again at once when more are due.
	maxAskedPerPoll = 20
	// gatherResults is how many of the account's results a walk behind
	// the stream reads after a request's last one before it asks: more
	// than the results of the requests an account's replicas send at
	// once, stored interleaved.
	gatherResults = 1000
)

// Poll implements Source: it reads at most limit new accepted results,
// then asks the provider for the requests that are due, the oldest first.
// A new cursor starts at the end of the results stream, like Expiry's.
func (s *Requests) Poll(ctx context.Context, cursor []byte, limit int) (*Page, error) {
	if len(cursor) == 0 {
		seq, err := resultsEnd(ctx, s.JS)
		if err != nil {
			return nil, err
		}
		next, _ := json.Marshal(requestsCursor{Seq: seq})
		return &Page{Next: next, More: true}, nil
	}
	var c requestsCursor
	if err := json.Unmarshal(cursor, &c); err != nil {
		return nil, fmt.Errorf("report: requests cursor: %w", err)
	}
	now := s.Now()
	more, err := s.read(ctx, &c, limit, cmp.Or(s.Settle, 10*time.Second))
	if err != nil {
		return nil, err
	}
	var evs []*Event
	asked, start := 0, time.Now()
	open := c.Pending[:0]
	for i := range c.Pending {
		p := &c.Pending[i]
		switch {
		case now.Sub(time.Unix(p.Since, 0)) > s.Horizon:
			continue // Expiry reports what is left
		case p.Due > now.Unix():
		case more && c.Read-p.Last < gatherResults:
		case asked == maxAskedPerPoll || asked > 0 && halfSpent(ctx, start):
			more = true
		default:
			asked++
			got, err := s.ask(ctx, p, now)
			if err != nil {
				return nil, err
			}
			evs = append(evs, got...)
		}
		if len(p.Messages) > 0 {
			open = append(open, *p)
		}
	}
	c.Pending = open
	next, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return &Page{Reports: evs, Next: next, More: more}, nil
}

// read adds the accepted results after c.Seq, at most limit, to the open
// requests; more says there are more to read.
func (s *Requests) read(ctx context.Context, c *requestsCursor, limit int, settle time.Duration) (more bool, err error) {
	open := 0
	byID := map[string]*pendingRequest{}
	for i := range c.Pending {
		open += len(c.Pending[i].Messages)
		byID[c.Pending[i].ID] = &c.Pending[i]
	}
	limit = min(limit, maxPendingMessages-open)
	if limit <= 0 {
		return false, nil
	}
	kinds := s.Reporter.ReportKinds()
	var added []*pendingRequest
	last, full, err := acceptedAfter(ctx, s.Store, s.Account, c.Seq, limit, func(r *result.Event) (bool, error) {
		c.Read++
		if r.ProviderMessageID == "" || !slices.Contains(kinds, job.Kind(r.Kind)) {
			return true, nil
		}
		p := byID[r.ProviderRequestID]
		if p == nil || p.ID == "" {
			// A message without its request id (its outcome came from a
			// lookup that did not give it) is asked about alone.
			p = &pendingRequest{ID: r.ProviderRequestID, Kind: job.Kind(r.Kind), Since: r.Time.Unix(), Due: r.Time.Add(settle).Unix()}
			byID[p.ID] = p
			added = append(added, p)
		}
		p.Messages = append(p.Messages, pendingMessage{ID: r.ProviderMessageID, Job: r.JobID, Index: r.RecipientIndex})
		p.Last = c.Read
		return true, nil
	})
	if err != nil {
		return false, err
	}
	c.Seq = last
	for _, p := range added {
		c.Pending = append(c.Pending, *p)
	}
	return full, nil
}

// ask asks the provider for request p and returns the reports of its
// messages that are terminal (and not reported yet), taking them out of p.
func (s *Requests) ask(ctx context.Context, p *pendingRequest, now time.Time) ([]*Event, error) {
	if err := s.Limiter.Wait(ctx, 0); err != nil {
		return nil, err
	}
	var reps []providers.Report
	var err error
	if p.ID != "" {
		reps, err = s.Reporter.RequestReports(ctx, p.ID)
	} else {
		var rep providers.Report
		var terminal bool
		if rep, terminal, err = s.Reporter.MessageReport(ctx, p.Messages[0].ID); terminal {
			reps = []providers.Report{rep}
		}
	}
	if err != nil {
		return nil, err
	}
	byMessage := make(map[string]*providers.Report, len(reps))
	for i := range reps {
		byMessage[reps[i].MessageID] = &reps[i]
	}
	var terminal []providers.Report
	open := p.Messages[:0]
	for _, m := range p.Messages {
		rep, ok := byMessage[m.ID]
		if !ok {
			open = append(open, m)
			continue
		}
		rep.JobID, rep.Index = m.Job, m.Index
		terminal = append(terminal, *rep)
	}
	p.Messages, p.Due = open, now.Add(cmp.Or(s.Recheck, time.Minute)).Unix()
	return Correlate(ctx, s.Store, s.Account, s.Provider, p.Kind, terminal, now)
}
