// Package store writes what the worker keeps in JetStream. It is the one
// place that builds the messages talkrelay stores — result events, dead
// letters and retry schedules — with the Nats-Msg-Id that makes a second
// store of the same message a no-op (a redelivered job stores its results
// again), and it publishes them asynchronously with backpressure
// (Publisher).
//
// Nats-Msg-Ids:
//
//	<job id>/<recipient index>   a result event
//	seq/<stream seq>             the result of a message whose job id could not be read
//	dlq/<stream seq>             the dead letter of the message at that jobs-stream sequence
//	retry/<envelope id>          the schedule of a retry envelope
package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Origin is the jobs-stream message (a job or a retry envelope) that the
// stored messages answer.
type Origin struct {
	// Seq is its stream sequence.
	Seq uint64
	// JobSeq is the stream sequence of the job message its lineage started
	// from; 0 if unknown.
	JobSeq uint64
	// Span is the span handling it: result events and schedules carry its
	// trace context. nil: none.
	Span trace.Span
}

// Result is the message that stores result event ev of o. A run of
// results of one origin takes Results instead.
func Result(o Origin, ev *result.Event) *nats.Msg {
	var r Results
	r.Init(o)
	return &r.Msg(ev).Msg
}

// maxUintLen is the most digits of a uint64.
const maxUintLen = 20

// ResultID is the Nats-Msg-Id of the result of recipient index of job
// jobID, which de-duplicates the results of a redelivered job. A job whose
// id could not be read is identified by the stream sequence seq of its
// message instead.
func ResultID(jobID string, index int, seq uint64) string {
	return string(appendResultID(make([]byte, 0, len(jobID)+maxUintLen+1), jobID, index, seq))
}

func appendResultID(b []byte, jobID string, index int, seq uint64) []byte {
	if jobID == "" {
		return strconv.AppendUint(append(b, "seq/"...), seq, 10)
	}
	b = append(append(b, jobID...), '/')
	return strconv.AppendInt(b, int64(index), 10)
}

// DeadLetter is a job (or the part of it still pending) copied to the
// dead-letter subject of its account.
type DeadLetter struct {
	Account string
	// JobID is the job's id; empty when it could not be read.
	JobID string
	// Subject is the subject the dead-lettered message was published to.
	Subject string
	// Reason says why it was dead-lettered.
	Reason string
	// Recipients are the original indexes of the recipients it is about;
	// nil when it is about the whole message.
	Recipients []int
	// Header holds the original message's headers, kept on the dead
	// letter; nil for none.
	Header nats.Header
	Data   []byte
}

// Msg is the message that stores dl for the message at jobs-stream
// sequence seq.
func (dl *DeadLetter) Msg(seq uint64) *nats.Msg {
	m := nats.NewMsg(streams.DLQSubject(dl.Account))
	m.Data = dl.Data
	for k, v := range dl.Header {
		m.Header[k] = v
	}
	m.Header.Set(streams.HeaderReason, dl.Reason)
	if dl.JobID != "" {
		m.Header.Set(streams.HeaderJobID, dl.JobID)
	}
	m.Header.Set(streams.HeaderSubject, dl.Subject)
	if dl.Recipients != nil {
		idx := make([]string, len(dl.Recipients))
		for i, n := range dl.Recipients {
			idx[i] = strconv.Itoa(n)
		}
		m.Header.Set(streams.HeaderRecipients, strings.Join(idx, ","))
	}
	m.Header.Set(jetstream.MsgIDHeader, deadLetterID(seq))
	return m
}

// MsgWithin is Msg, but without the data when the message would take more
// than limit bytes (the server's max_payload): a job close to the limit
// does not fit with the dead letter's headers. The reason then says so.
func (dl *DeadLetter) MsgWithin(seq uint64, limit int) *nats.Msg {
	m := dl.Msg(seq)
	if Size(m) <= limit {
		return m
	}
	short := *dl
	short.Data = nil
	short.Reason = fmt.Sprintf("%s (the %d bytes of the message are left out: with this dead letter's headers they exceed max_payload)", dl.Reason, len(dl.Data))
	return short.Msg(seq)
}

// Size is how many bytes m takes of the server's max_payload: its data
// and its headers.
func Size(m *nats.Msg) int {
	n := len(m.Data)
	if len(m.Header) > 0 {
		n += len("NATS/1.0\r\n\r\n")
		for k, vs := range m.Header {
			for _, v := range vs {
				n += len(k) + len(": \r\n") + len(v)
			}
		}
	}
	return n
}

// deadLetterID is the Nats-Msg-Id of the dead letter of the message at
// jobs-stream sequence seq.
func deadLetterID(seq uint64) string { return "dlq/" + strconv.FormatUint(seq, 10) }

// Schedule is the message that stores env as a schedule on the jobs
// stream, which delivers it to the account's retry subject (of the urgent
// lane when urgent) when it is due, and at least a second after now. now is
// the time on the worker's clock, the clock env.DueAt is on; serverNow is
// the real time, which the NATS server runs schedules by: the envelope is
// delivered env.DueAt-now after serverNow (equal clocks: at env.DueAt). Its
// Nats-Msg-Id makes a second store of the same envelope a no-op. span, if
// not nil, is the span whose trace context it carries.
func Schedule(env *retry.Envelope, urgent bool, now, serverNow time.Time, span trace.Span) *nats.Msg {
	data, err := env.Encode()
	if err != nil {
		panic(err) // only our own types
	}
	at := serverNow.Add(max(env.DueAt.Sub(now), time.Second))
	m := nats.NewMsg(streams.ScheduleSubject(env.Job.Account, streams.HashToken(env.ID)))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, scheduleID(env.ID))
	m.Header.Set(jetstream.ScheduleHeader, "@at "+at.UTC().Format(time.RFC3339))
	m.Header.Set(jetstream.ScheduleTargetHeader, streams.RetrySubjectFor(env.Job.Account, urgent))
	m.Header.Set(retry.HeaderEnvelope, strconv.Itoa(env.Round))
	if span != nil {
		InjectTrace(span, m.Header)
	}
	return m
}

// scheduleID is the Nats-Msg-Id of the schedule of envelope envID.
func scheduleID(envID string) string { return "retry/" + envID }
