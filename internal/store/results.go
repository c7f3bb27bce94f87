package store

import (
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Results builds the result messages of one origin, which may have
// thousands of recipients. What its results share is formatted once: the
// job sequence and trace context headers, and the subject of the last
// account, status and job. Each message comes from a pool, with its body
// buffer and header map, and goes back to it once stored
// (Publisher.PublishResult). Init it before use; then its methods may be
// called concurrently.
type Results struct {
	seq           uint64
	jobSeq        string // Talkrelay-Job-Seq; "" for none
	parent, state string // traceparent and tracestate; "" for none

	mu      sync.Mutex
	last    resultSubject
	subject string // of last
}

// resultSubject is what the subject of a result depends on.
type resultSubject struct {
	account, jobID string
	status         result.Status
}

// Init makes r the builder of the result messages of o.
func (r *Results) Init(o Origin) {
	r.seq = o.Seq
	if o.JobSeq != 0 {
		r.jobSeq = strconv.FormatUint(o.JobSeq, 10)
	}
	if o.Span != nil {
		r.parent, r.state = traceHeaders(o.Span.SpanContext())
	}
}

// ResultMsg is a result message of Results. Release returns it to their
// pool.
type ResultMsg struct {
	nats.Msg
	// values hold the header values, which the header map's one-element
	// slices point into: Nats-Msg-Id, Talkrelay-Job-Seq, traceparent,
	// tracestate.
	values [4]string
}

// resultBodySize is the body buffer a pooled message starts with; one
// that grew past maxPooledBody (large metadata) is not kept.
const resultBodySize, maxPooledBody = 1024, 16 << 10

var resultPool = sync.Pool{New: func() any {
	return &ResultMsg{Msg: nats.Msg{Header: make(nats.Header, len(ResultMsg{}.values)), Data: make([]byte, 0, resultBodySize)}}
}}

// Msg returns the message that stores result event ev, from the pool.
func (r *Results) Msg(ev *result.Event) *ResultMsg {
	rm := resultPool.Get().(*ResultMsg)
	m := &rm.Msg
	m.Subject = r.subjectOf(ev)
	m.Data = ev.AppendJSON(m.Data[:0])
	clear(m.Header)
	rm.values[0] = ResultID(ev.JobID, ev.RecipientIndex, r.seq)
	m.Header[jetstream.MsgIDHeader] = rm.values[0:1:1]
	if r.jobSeq != "" {
		rm.values[1] = r.jobSeq
		m.Header[streams.HeaderJobSeq] = rm.values[1:2:2]
	}
	if r.parent != "" {
		rm.values[2] = r.parent
		m.Header[traceparentHeader] = rm.values[2:3:3]
	}
	if r.state != "" {
		rm.values[3] = r.state
		m.Header[tracestateHeader] = rm.values[3:4:4]
	}
	return rm
}

// subjectOf returns the subject of ev, formatted once for a run of
// results of the same account, status and job.
func (r *Results) subjectOf(ev *result.Event) string {
	k := resultSubject{account: ev.Account, jobID: ev.JobID, status: ev.Status}
	r.mu.Lock()
	defer r.mu.Unlock()
	if k != r.last || r.subject == "" {
		r.last, r.subject = k, streams.ResultSubject(k.account, string(k.status), k.jobID)
	}
	return r.subject
}

// Release returns m to the pool of result messages. Nothing may use m
// afterwards.
func (m *ResultMsg) Release() {
	if cap(m.Data) > maxPooledBody {
		return
	}
	m.Reply = ""
	m.values = [4]string{}
	resultPool.Put(m)
}
