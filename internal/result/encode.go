package result

import (
	"strconv"

	"github.com/talkrelay/talkrelay/internal/jsonw"
)

// AppendJSON appends the event's JSON to b. It writes the same document
// as encoding/json would (field order, omitted empty fields), without
// reflection: results are the worker's most frequent output. Metadata is
// copied as it is: keep it compact (the worker compacts it once per job).
func (e *Event) AppendJSON(b []byte) []byte { return e.AppendJSONShared(b, nil) }

// AppendJSONShared is AppendJSON, copying the fields e has in common with
// the event s was made of from s instead of writing them again; s may be
// nil, or of an event that has other common fields.
func (e *Event) AppendJSONShared(b []byte, s *Shared) []byte {
	shared := s.of(e)
	if shared {
		b = append(b, s.head...)
	} else {
		b = e.appendHead(b)
	}
	b = append(b, `,"recipient_index":`...)
	b = strconv.AppendInt(b, int64(e.RecipientIndex), 10)
	b = appendField(b, `,"ref":`, e.Ref, true)
	b = appendField(b, `,"phone":`, e.Phone, true)
	if shared {
		b = append(b, s.mid...)
	} else {
		b = e.appendMid(b)
	}
	b = appendField(b, `,"status":`, string(e.Status), false)
	b = append(b, `,"retryable":`...)
	b = strconv.AppendBool(b, e.Retryable)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(e.Attempt), 10)
	b = appendField(b, `,"reason":`, string(e.Reason), false)
	b = appendField(b, `,"code":`, e.Code, true)
	b = appendField(b, `,"code_name":`, e.CodeName, true)
	b = appendField(b, `,"message":`, e.Message, true)
	b = appendField(b, `,"detail":`, e.Detail, true)
	b = appendField(b, `,"provider_request_id":`, e.ProviderRequestID, true)
	b = appendField(b, `,"provider_message_id":`, e.ProviderMessageID, true)
	b = appendField(b, `,"reserved_by":`, e.ReservedBy, true)
	if shared {
		b = append(b, s.tail...)
	} else {
		b = e.appendTail(b)
	}
	b = append(b, `,"time":"`...)
	b = timeStamps.appendTime(b, e.Time)
	b = append(b, '"')
	if e.SentAt != nil {
		b = append(b, `,"sent_at":"`...)
		b = sentStamps.appendTime(b, *e.SentAt)
		b = append(b, '"')
	}
	return append(b, '}')
}

// Shared holds the JSON of the fields the result events of one job
// delivery have in common — version, job id, account, provider, kind,
// metadata and trace id — written once, for AppendJSONShared to copy.
type Shared struct {
	version                                 int
	jobID, account, provider, kind, traceID string
	metadata                                []byte
	head, mid, tail                         []byte // the JSON of the fields before recipient_index, after phone, after reserved_by
}

// NewShared returns the common fields of e's job delivery, as e has them.
func NewShared(e *Event) *Shared {
	s := &Shared{version: e.Version, jobID: e.JobID, account: e.Account, provider: e.Provider, kind: e.Kind,
		traceID: e.TraceID, metadata: e.Metadata}
	b := e.appendHead(make([]byte, 0, 160+len(e.Metadata)))
	head := len(b)
	b = e.appendMid(b)
	mid := len(b)
	b = e.appendTail(b)
	s.head, s.mid, s.tail = b[:head], b[head:mid], b[mid:]
	return s
}

// of tells whether e has the common fields s holds.
func (s *Shared) of(e *Event) bool {
	return s != nil && e.Version == s.version && e.JobID == s.jobID && e.Account == s.account && e.Provider == s.provider &&
		e.Kind == s.kind && e.TraceID == s.traceID && string(e.Metadata) == string(s.metadata)
}

func (e *Event) appendHead(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	return appendField(b, `,"job_id":`, e.JobID, false)
}

func (e *Event) appendMid(b []byte) []byte {
	b = appendField(b, `,"account":`, e.Account, false)
	b = appendField(b, `,"provider":`, e.Provider, true)
	return appendField(b, `,"kind":`, e.Kind, true)
}

func (e *Event) appendTail(b []byte) []byte {
	if len(e.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = append(b, e.Metadata...)
	}
	return appendField(b, `,"trace_id":`, e.TraceID, true)
}

// appendField appends key (`,"name":`) and v as a JSON string, unless v
// is empty and omitEmpty.
func appendField(b []byte, key, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	return jsonw.AppendString(append(b, key...), v)
}
