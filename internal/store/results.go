package store

import (
	"strconv"
	"sync"
	"unsafe"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Results builds the result messages of one origin, which may have
// thousands of recipients. What its results share is formatted once: the
// job sequence and trace context headers, the subject of the last
// account, status and job, and from the second result on, the JSON of the
// job's fields (result.Shared). Each message comes from a pool, with its body
// buffer and header map, and goes back to it once stored
// (Publisher.PublishResult). Init it before use; then its methods may be
// called concurrently.
type Results struct {
	seq    uint64
	origin Origin // formatted at its first result (see common)

	mu sync.Mutex
	// Written once, at the first result, before built.
	jobSeq        string // Talkrelay-Job-Seq; "" for none
	parent, state string // traceparent and tracestate; "" for none
	last          resultSubject
	subject       string // of last
	built         bool   // a result was built
	shared        *result.Shared
}

// resultSubject is what the subject of a result depends on.
type resultSubject struct {
	account, jobID string
	status         result.Status
}

// Init makes r the builder of the result messages of o. It sets only
// what the first result reads (assigning all of r would copy it with
// write barriers).
func (r *Results) Init(o Origin) {
	r.seq, r.origin, r.state, r.built, r.shared = o.Seq, o, "", false, nil
}

// ResultMsg is a result message of Results. Release returns it to their
// pool. Its headers change only through its methods (SetTrace).
type ResultMsg struct {
	nats.Msg
	// values hold the header values, which the header map's one-element
	// slices point into: Nats-Msg-Id, Talkrelay-Job-Seq, traceparent,
	// tracestate.
	values [len(resultHeaders)]string
	// set has bit i set when the header map holds resultHeaders[i] (and
	// only those), pointing into values.
	set uint8
	// id holds the bytes of the Nats-Msg-Id, values[0]: the message is
	// published (nats.go copies it) before it is released and id reused.
	id []byte
	// header holds the headers encoded for publishEncoded, if encoded
	// (else PublishMsg encodes the map): see Publisher.PublishResult.
	header  []byte
	encoded bool
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
	var shared *result.Shared
	m.Subject, shared = r.common(ev)
	m.Data = ev.AppendJSONShared(m.Data[:0], shared)
	rm.id = appendResultID(rm.id[:0], ev.JobID, ev.RecipientIndex, r.seq)
	rm.values = [len(resultHeaders)]string{unsafe.String(unsafe.SliceData(rm.id), len(rm.id)), r.jobSeq, r.parent, r.state}
	rm.setHeaders()
	return rm
}

// SetTrace makes the message carry the trace context of span instead of
// its origin's; nothing for an invalid one.
func (rm *ResultMsg) SetTrace(span trace.Span) {
	parent, state := traceHeaders(span.SpanContext())
	if parent == "" {
		return
	}
	rm.values[2] = parent
	if state != "" {
		rm.values[3] = state
	}
	rm.setHeaders()
}

// resultHeaders name the headers of a result message, in the order of
// ResultMsg.values.
var resultHeaders = [...]string{jetstream.MsgIDHeader, streams.HeaderJobSeq, traceparentHeader, tracestateHeader}

// setHeaders makes the header map hold the values that are not empty,
// each as a slice of values. A map that holds these headers already, as
// the pool gives back a message of the same origin, is left as it is.
func (rm *ResultMsg) setHeaders() {
	var set uint8
	for i, v := range rm.values {
		if v != "" {
			set |= 1 << i
		}
	}
	if set == rm.set {
		return
	}
	clear(rm.Header)
	for i := range rm.values {
		if set&(1<<i) != 0 {
			rm.Header[resultHeaders[i]] = rm.values[i : i+1 : i+1]
		}
	}
	rm.set = set
}

// common returns the subject of ev, formatted once for a run of results
// of the same account, status and job, and the common fields of the
// origin's results, written at the second (a one-recipient job does not
// pay for them) or nil. At the first result, it formats the job sequence
// and trace context headers of every result of the origin, and the
// subject, in one allocation (r's fields Msg reads after it).
func (r *Results) common(ev *result.Event) (string, *result.Shared) {
	k := resultSubject{account: ev.Account, jobID: ev.JobID, status: ev.Status}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.built {
		var b [maxUintLen + traceparentLen + streams.MaxResultSubjectLen]byte
		buf := b[:0]
		if r.origin.JobSeq != 0 {
			buf = strconv.AppendUint(buf, r.origin.JobSeq, 10)
		}
		seqEnd := len(buf)
		if r.origin.Span != nil {
			if sc := r.origin.Span.SpanContext(); sc.IsValid() {
				buf = appendTraceparent(buf, sc)
				r.state = sc.TraceState().String()
			}
		}
		parentEnd := len(buf)
		all := string(streams.AppendResultSubject(buf, k.account, string(k.status), k.jobID))
		r.jobSeq, r.parent, r.subject, r.last = all[:seqEnd], all[seqEnd:parentEnd], all[parentEnd:], k
		r.built = true
		return r.subject, nil
	}
	if k != r.last {
		r.last, r.subject = k, streams.ResultSubject(k.account, string(k.status), k.jobID)
	}
	if r.shared == nil {
		r.shared = result.NewShared(ev)
	}
	return r.subject, r.shared
}

// Release returns m to the pool of result messages. Nothing may use m
// afterwards.
func (m *ResultMsg) Release() {
	if cap(m.Data) > maxPooledBody {
		return
	}
	m.Reply = ""
	m.values = [len(resultHeaders)]string{}
	resultPool.Put(m)
}
