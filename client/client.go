// Package client is the Go client of talkrelay for producer services: it
// publishes send jobs to NATS JetStream and reads their result events.
//
// A Client wraps a JetStream context:
//
//	nc, _ := nats.Connect(url)
//	js, _ := jetstream.New(nc)
//	c := client.New(js)
//
// Publish validates a Job against schemas/job.v1.schema.json and publishes
// it to talkrelay.jobs.<account>.<kind> (talkrelay.jobs.<account>.<kind>.urgent
// for an urgent job) with Nats-Msg-Id set to its id, so publishing the same
// job again stores nothing new. Wait returns one Result per recipient of a
// job once all have one; Results follows the results on any subject filter.
// The worker creates the streams; this package never creates or changes
// them.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/schemas"
)

// Stream names: the worker creates both.
const (
	JobsStream    = "TALKRELAY_JOBS"    // send jobs, a work queue
	ResultsStream = "TALKRELAY_RESULTS" // result events, 7 days by default
)

// ErrNotSetUp says the talkrelay streams do not exist on the server yet:
// a worker creates them when it starts.
var ErrNotSetUp = streams.ErrNotSetUp

// Client publishes jobs and reads results through one JetStream context.
// It is safe for concurrent use.
type Client struct {
	js jetstream.JetStream
}

// New returns a Client using js. Make js with the JetStream domain or API
// prefix of the server the workers use, if any.
func New(js jetstream.JetStream) *Client { return &Client{js: js} }

// JobSubject is where a job for account and kind is published:
// talkrelay.jobs.<account>.<kind>, with ".urgent" appended when urgent.
func JobSubject(account string, kind Kind, urgent bool) string {
	return streams.JobSubjectFor(account, string(kind), urgent)
}

// JobResultsSubject is the subject filter that matches every result of one
// job: talkrelay.results.<account>.*.<job> (dots in the id become "%").
func JobResultsSubject(account, jobID string) string {
	return streams.JobResultsFilter(account, jobID)
}

// ResultsSubject is the subject filter that matches the results of account
// with status; "" for either means any: ResultsSubject("shop", Failed) is
// talkrelay.results.shop.failed.>, ResultsSubject("", Rejected) is
// talkrelay.results.*.rejected.>.
func ResultsSubject(account string, status Status) string {
	a, s := "*", "*"
	if account != "" {
		a = streams.Token(account)
	}
	if status != "" {
		s = streams.Token(string(status))
	}
	return streams.ResultsPrefix + "." + a + "." + s + ".>"
}

// InvalidJobError says why a job was not published: talkrelay would reject
// it. Err names each offending location (a JSON pointer) and the rule it
// breaks, with any phone number it quotes masked, so that it can be logged.
type InvalidJobError struct {
	ID  string
	Err error
}

func (e *InvalidJobError) Error() string {
	if e.ID == "" {
		return "talkrelay: invalid job: " + e.Err.Error()
	}
	return "talkrelay: invalid job " + e.ID + ": " + e.Err.Error()
}

func (e *InvalidJobError) Unwrap() error { return e.Err }

// MaxMetadataBytes caps a job's metadata as compact JSON; the worker
// rejects a job with more (invalid_job).
const MaxMetadataBytes = job.MaxMetadataBytes

// compactLen is the length of raw as compact JSON (raw's own when it does
// not compact).
func compactLen(raw json.RawMessage) int {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return len(raw)
	}
	return b.Len()
}

// Encode returns the job's wire form after checking it against the job
// schema and MaxMetadataBytes; the error is an *InvalidJobError. A zero Version is set to
// Version.
func (j *Job) Encode() ([]byte, error) {
	if j.Version == 0 {
		j.Version = Version
	}
	data, err := json.Marshal(j)
	if err != nil {
		return nil, &InvalidJobError{ID: j.ID, Err: err}
	}
	if err := schemas.ValidateJob(data); err != nil {
		return nil, &InvalidJobError{ID: j.ID, Err: errors.New(job.RedactPhones(err.Error()))}
	}
	if n := compactLen(j.Metadata); n > MaxMetadataBytes {
		return nil, &InvalidJobError{ID: j.ID, Err: fmt.Errorf("metadata is %d bytes as compact JSON, more than %d (it is repeated in every result event)", n, MaxMetadataBytes)}
	}
	return data, nil
}

// Subject is where Publish sends j: JobSubject of its account, kind and
// priority.
func (j *Job) Subject() string { return JobSubject(j.Account, j.Kind, j.Priority == Urgent) }

// PublishAck is what the jobs stream answered.
type PublishAck struct {
	Subject string
	// Sequence is the job's sequence in the jobs stream.
	Sequence uint64
	// Duplicate is set when the stream already had a job with this id
	// (within its duplicate window, an hour by default): nothing new was
	// stored, and the first job's results are the ones to wait for.
	Duplicate bool
}

// Publish validates j and publishes it to its subject with Nats-Msg-Id set
// to its id. An invalid job is not published (*InvalidJobError). Publishing
// the same job again, after an error or a crash, is safe: the stream stores
// a job id once and the ack says Duplicate.
//
// When ctx carries an OpenTelemetry span, the message carries its W3C
// traceparent (and tracestate) header: the worker continues that trace and
// every result of the job carries its trace id.
func (c *Client) Publish(ctx context.Context, j *Job) (*PublishAck, error) {
	data, err := j.Encode()
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(j.Subject())
	msg.Data = data
	injectTrace(ctx, msg)
	ack, err := c.js.PublishMsg(ctx, msg, jetstream.WithMsgID(j.ID))
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		// Nothing stores the subject: no worker has created the streams,
		// or a stream leader is being elected.
		return nil, fmt.Errorf("talkrelay: publish job %s to %s: %w (%w)", j.ID, msg.Subject, err, ErrNotSetUp)
	}
	if err != nil {
		return nil, fmt.Errorf("talkrelay: publish job %s to %s: %w", j.ID, msg.Subject, err)
	}
	return &PublishAck{Subject: msg.Subject, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// injectTrace puts the trace context of ctx, if any, into msg's headers.
func injectTrace(ctx context.Context, msg *nats.Msg) {
	propagation.TraceContext{}.Inject(ctx, traceHeader(msg.Header))
}

// traceHeader writes trace context into NATS headers under the lower-case
// W3C names (nats.Header keys are case-sensitive).
type traceHeader nats.Header

func (h traceHeader) Get(key string) string { return nats.Header(h).Get(strings.ToLower(key)) }

func (h traceHeader) Set(key, value string) { h[strings.ToLower(key)] = []string{value} }

func (h traceHeader) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}
