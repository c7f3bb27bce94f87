package dedupe

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Headers of direct get answers (nats-server's JSSubject, JSTimeStamp, ...).
const (
	hdrSubject   = "Nats-Subject"
	hdrSequence  = "Nats-Sequence"
	hdrTimeStamp = "Nats-Time-Stamp"
	hdrPending   = "Nats-Num-Pending"
	hdrLastSeq   = "Nats-Last-Sequence"
	hdrUpToSeq   = "Nats-UpTo-Sequence"
	// nats.go puts a status line's code and text in these.
	hdrStatus = "Status"
	hdrDescr  = "Description"
)

type status int

const (
	statusEOB      status = iota // 204 EOB: the batch is complete
	statusNotFound               // 404: nothing matched (desc says how)
	statusTooMany                // 413: the filters match too many subjects
)

// descNoResults is the text of multi_last's 404 when no subject matches.
const descNoResults = "No Results"

// stored is one message of an answer: its subject and Nats-Time-Stamp.
// stored is one message of an answer: its subject, stored time and the
// job-message sequence its trace names (0 when it names none).
type stored struct {
	subj, ts string
	jobSeq   uint64
}

// answer is a complete reply to one direct get request.
type answer struct {
	status  status
	desc    string
	msgs    []stored
	pending uint64 // Nats-Num-Pending of the EOB: results not sent
	lastSeq uint64 // Nats-Last-Sequence: the last one sent
	upToSeq uint64 // Nats-UpTo-Sequence: the snapshot the batch was taken at
}

// call is one request in flight. Its reply messages are added, in order,
// by the subscription's handler; finish hands the answer over once.
type call struct {
	msgs []stored // handler only
	once sync.Once
	done chan struct{}
	ans  answer
	err  error
}

func (p *call) finish(a answer, err error) {
	p.once.Do(func() {
		p.ans, p.err = a, err
		close(p.done)
	})
}

// add takes one reply message; it reports whether it ended the answer.
func (p *call) add(m *nats.Msg) bool {
	// A stored message always carries its sequence; status messages never
	// do (a 503 does carry Nats-Subject: the request's subject).
	if m.Header.Get(hdrSequence) != "" {
		p.msgs = append(p.msgs, stored{subj: m.Header.Get(hdrSubject), ts: m.Header.Get(hdrTimeStamp), jobSeq: jobSeqOf(m)})
		return false
	}
	code, desc := m.Header.Get(hdrStatus), m.Header.Get(hdrDescr)
	a := answer{msgs: p.msgs, desc: desc}
	var err error
	switch code {
	case "204":
		a.status = statusEOB
		if a.pending, err = uintHeader(m, hdrPending); err == nil {
			if a.lastSeq, err = uintHeader(m, hdrLastSeq); err == nil {
				a.upToSeq, err = uintHeader(m, hdrUpToSeq)
			}
		}
	case "404":
		a.status = statusNotFound
	case "413":
		a.status = statusTooMany
	case "503":
		err = ErrUnavailable
	case "":
		err = fmt.Errorf("unexpected answer without status or %s header", hdrSequence)
	default:
		err = fmt.Errorf("server answered %s %s", code, desc)
	}
	p.finish(a, err)
	return true
}

func uintHeader(m *nats.Msg, name string) (uint64, error) {
	v := m.Header.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad %s header %q", name, v)
	}
	return n, nil
}

// subscribe makes the reply subscription on first use.
func (c *Checker) subscribe() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	if c.sub != nil {
		return nil
	}
	inbox := c.nc.NewInbox()
	sub, err := c.nc.Subscribe(inbox+".*", c.onReply)
	if err != nil {
		return fmt.Errorf("subscribe for replies: %w", err)
	}
	// A batch can hold up to MaxResults messages per request: do not let
	// the client's pending limits drop any of a few concurrent ones.
	_ = sub.SetPendingLimits(-1, 256<<20)
	c.inbox, c.sub = inbox, sub
	return nil
}

func (c *Checker) onReply(m *nats.Msg) {
	c.mu.Lock()
	tok := ""
	if len(m.Subject) > len(c.inbox)+1 {
		tok = m.Subject[len(c.inbox)+1:]
	}
	p := c.pending[tok]
	c.mu.Unlock()
	if p == nil {
		return // late: its Seen gave up
	}
	if p.add(m) {
		c.mu.Lock()
		delete(c.pending, tok)
		c.mu.Unlock()
	}
}

// request sends one direct get to stream and waits for its whole answer.
func (c *Checker) request(ctx context.Context, stream string, body any) (answer, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return answer{}, err
	}
	if err := c.subscribe(); err != nil {
		return answer{}, err
	}
	tok := strconv.FormatUint(c.next.Add(1), 36)
	p := &call{done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return answer{}, errClosed
	}
	c.pending[tok] = p
	reply := c.inbox + "." + tok
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, tok)
		c.mu.Unlock()
	}()
	if err := c.nc.PublishRequest(c.prefix+".DIRECT.GET."+stream, reply, data); err != nil {
		return answer{}, err
	}
	select {
	case <-p.done:
		return p.ans, p.err
	case <-ctx.Done():
		return answer{}, ctx.Err()
	}
}

// jobSeqOf reads the job-message sequence a trace names: the
// Talkrelay-Job-Seq header of a result event, or the "seq" of a send record
// or the "job_seq" of an envelope record.
func jobSeqOf(m *nats.Msg) uint64 {
	if v := m.Header.Get(streams.HeaderJobSeq); v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		return n
	}
	if len(m.Data) == 0 || m.Data[0] != '{' {
		return 0
	}
	var r struct {
		Seq    uint64 `json:"seq"`
		JobSeq uint64 `json:"job_seq"`
	}
	if json.Unmarshal(m.Data, &r) != nil {
		return 0
	}
	return max(r.Seq, r.JobSeq)
}
