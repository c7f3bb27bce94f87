// Package reconcile keeps the traces a worker leaves of what it did with a
// job, and reads them back when the job (or one of its retry envelopes) is
// delivered again because a worker stopped before acknowledging it.
//
// Send records live in the talkrelay_sends bucket:
//
//	request.<account>.<batch id>    one per provider request: the recipients
//	                                of every job it hands over, with their
//	                                attempts (see requests.go)
//	<job>.e.<parent>.<kind><chunk>  a follow-up envelope of delivery <parent>,
//	                                written before the envelope is scheduled
//
// On the hot path that is one write per provider request, none per job or
// recipient; envelope records are written only for retries and lookups.
// Envelope records are keyed by the job (dedupe.JobKey), where the duplicate
// check looks too. A request record is found by time instead: a redelivered
// message reads its account's request records stored since the message was
// (a Scan, shared by the redelivered messages of one group).
//
// A redelivered job or envelope reads them to learn what a worker that
// died did before it could acknowledge: recipients sent without a recorded
// answer are looked up, never resent blindly, and envelopes already written
// are scheduled again under the same Nats-Msg-Id (stored once) instead of
// being rebuilt. Recipients whose final result is already stored (read
// from the results stream) are left alone. Records of one job per request
// (<job>.b.<batch id>), written by versions before request records, are
// read too.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/dedupe"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// jobKey prefixes a job's send records; the duplicate check reads them by it.
func jobKey(jobID string) string { return dedupe.JobKey(jobID) }

// appendJobKey appends jobKey(jobID) to b (TestRequestRecordJSON holds
// them equal).
func appendJobKey(b []byte, jobID string) []byte { return streams.AppendHashToken(b, jobID) }

// jobRecord is a send record of versions before request records: one per
// job and provider request, under <job key>.b.<batch id>. Reconcile still
// reads them, so that a job one of those versions sent is reconciled by
// this one during a rolling upgrade.
type jobRecord struct {
	At    time.Time `json:"at"`
	Sends [][2]int  `json:"sends"` // [index, attempt]
}

// Records reads and writes a worker's traces: send records in the
// talkrelay_sends bucket, and the final results in the results stream.
type Records struct {
	js        jetstream.JetStream
	sends     jetstream.KeyValue
	apiPrefix string // js's (streams.APIPrefix): send records are written by hand
}

// New returns the traces kept through js, with sends the talkrelay_sends
// bucket.
func New(js jetstream.JetStream, sends jetstream.KeyValue) *Records {
	return &Records{js: js, sends: sends, apiPrefix: streams.APIPrefix(js)}
}

// kvSubject is the subject that writes key into the send-records bucket.
func (r *Records) kvSubject(key string) string { return streams.SendsSubject(r.apiPrefix, key) }

// Send is one recipient about to be handed to a provider.
type Send struct {
	JobID string
	// JobSeq is the stream sequence of the job message; 0 if unknown.
	JobSeq uint64
	// Index of the recipient in the job, and its attempt number.
	Index, Attempt int
}

// RecordBatch records which recipients provider request batchID of
// account is about to hand over, at which attempt, as of now: one send
// record for the whole request, whatever the number of jobs in it. It
// returns once JetStream stored it.
func (r *Records) RecordBatch(ctx context.Context, account, batchID string, sends []Send, now time.Time) error {
	m := &nats.Msg{Subject: r.kvSubject(requestKey(account, batchID)), Data: requestRecordJSON(sends, now)}
	f, err := r.js.PublishMsgAsync(m)
	if err != nil {
		return err
	}
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EnvelopeName names the follow-up envelopes of a delivery: "a<chunk>"
// for the chunk-th of recipients due for another attempt, "l<chunk>" with
// lookup for those due for a lookup. An envelope's id is
// <parent>.<name>, and its record's key ends in .<name>.
func EnvelopeName(lookup bool, chunk int) string {
	if lookup {
		return "l" + strconv.Itoa(chunk)
	}
	return "a" + strconv.Itoa(chunk)
}

// EnvelopeRecord is the message that records envelope data, named name
// (EnvelopeName), of delivery parent of job jobID, before the envelope is
// scheduled.
func (r *Records) EnvelopeRecord(jobID, parent, name string, data []byte) *nats.Msg {
	m := nats.NewMsg(r.kvSubject(jobKey(jobID) + ".e." + streams.HashToken(parent) + "." + name))
	m.Data = data
	return m
}

// Reconcile prepares a redelivered delivery parent of job jobID, which
// carries pending: it returns the recipients (original indexes) to leave
// alone — those with a stored final result and those already handed to a
// follow-up envelope of parent, which it passes to schedule to be stored
// again — and marks recipients sent without a recorded answer for a
// lookup. sendRecords is how many recipients it found send records of.
// scan must have the job registered (Scan.Want).
func (r *Records) Reconcile(account, jobID, parent string, pending []retry.Pending, scan *Scan, schedule func(*retry.Envelope)) (skip map[int]bool, sendRecords int, err error) {
	skip, err = r.Finals(account, jobID)
	if err != nil {
		return nil, 0, err
	}
	fromRequests, err := scan.sent(account, jobID)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := jobKey(jobID)
	keys, err := r.sends.ListKeysFiltered(ctx, prefix+".>")
	if err != nil {
		return nil, 0, fmt.Errorf("list send records: %w", err)
	}
	sent := maps.Clone(fromRequests)
	if sent == nil {
		sent = map[int]sendRecordEntry{}
	}
	envPrefix := prefix + ".e." + streams.HashToken(parent) + "."
	for k := range keys.Keys() {
		e, err := r.sends.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read send record: %w", err)
		}
		switch {
		case strings.HasPrefix(k, prefix+".b."): // written by versions before request records
			var rec jobRecord
			if json.Unmarshal(e.Value(), &rec) != nil {
				continue
			}
			addSends(sent, rec.Sends, rec.At)
		case strings.HasPrefix(k, envPrefix):
			env, err := retry.Decode(e.Value())
			if err != nil {
				continue
			}
			for _, p := range env.Pending {
				skip[p.Index] = true
			}
			schedule(env)
		}
	}
	markSent(pending, skip, sent)
	return skip, len(sent), nil
}

type sendRecordEntry struct {
	attempt int
	at      time.Time
}

// markSent marks the recipients of pending that are not in skip and were
// handed to a provider (sent) at a later attempt than pending knows of: to
// be looked up, since their answer was never recorded.
func markSent(pending []retry.Pending, skip map[int]bool, sent map[int]sendRecordEntry) {
	for pos := range pending {
		p := &pending[pos]
		if skip[p.Index] {
			continue
		}
		if r, ok := sent[p.Index]; ok && r.attempt > p.Attempts {
			p.Attempts, p.Lookup, p.Lookups = r.attempt, true, 0
			p.LastSentAt = r.at
			if p.FirstSentAt.IsZero() {
				p.FirstSentAt = r.at
			}
			p.Last = &retry.Outcome{Class: providers.Unknown.String(), Reason: result.ReasonOutcomeUnknown,
				Message: "a worker stopped after handing this message to the provider, before recording the answer"}
		}
	}
}

// Finals returns the recipient indexes of job that have a final result
// stored.
func (r *Records) Finals(account, jobID string) (map[int]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := map[int]bool{}
	err := r.readStream(ctx, streams.ResultsStream, streams.JobResultsFilter(account, jobID), time.Time{}, func(data []byte) {
		var ev struct {
			Index int `json:"recipient_index"`
		}
		if json.Unmarshal(data, &ev) == nil {
			done[ev.Index] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read stored results: %w", err)
	}
	return done, nil
}

// finalsBatch is how many results one direct get request returns at most.
const finalsBatch = 1000

// readStream calls each with the data of every message of stream stored on
// subjects matching filter, at or after since (from the first if zero), in
// order. It reads them with batched direct gets, not a consumer: a
// consumer per redelivered job is a JetStream API write each (and a
// cluster-wide proposal in a cluster), and a worker that takes over a
// thousand jobs at once would create a thousand of them.
func (r *Records) readStream(ctx context.Context, stream, filter string, since time.Time, each func([]byte)) error {
	return r.walkStream(ctx, stream, filter, since, 1, finalsBatch, func(_ uint64, data []byte) bool { each(data); return true })
}

// walkStream is readStream from sequence from (when since is zero), batch
// messages a request; each gets every message's sequence too and returns
// false to stop.
func (r *Records) walkStream(ctx context.Context, stream, filter string, since time.Time, from uint64, batch int, each func(seq uint64, data []byte) bool) error {
	nc := r.js.Conn()
	inbox := nc.NewInbox()
	// A request is answered with at most batch messages and the status
	// that ends them, and the next is asked only after that status: a
	// channel of batch+1 never fills. (SubscribeSync's channel is 65,536
	// messages, 512 KB allocated for every walk: a report poller walks once
	// per job.)
	msgs := make(chan *nats.Msg, batch+1)
	sub, err := nc.ChanSubscribe(inbox, msgs)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	subject := r.apiPrefix + ".DIRECT.GET." + stream
	seq := from
	var start *time.Time // the first request only, instead of seq
	if !since.IsZero() {
		t := since.UTC()
		start, seq = &t, 0
	}
	for ; ; start = nil {
		req, _ := json.Marshal(struct {
			Seq   uint64     `json:"seq,omitempty"`
			Start *time.Time `json:"start_time,omitempty"`
			Next  string     `json:"next_by_subj"`
			Batch int        `json:"batch"`
		}{seq, start, filter, batch})
		if err := nc.PublishRequest(subject, inbox, req); err != nil {
			return err
		}
		for {
			var m *nats.Msg
			select {
			case m = <-msgs:
			case <-ctx.Done():
				return ctx.Err()
			}
			if s := m.Header.Get(jetstream.SequenceHeader); s != "" {
				n, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return fmt.Errorf("direct get: bad sequence %q", s)
				}
				seq = n + 1
				if !each(n, m.Data) {
					return nil
				}
				continue
			}
			switch m.Header.Get("Status") {
			case "404":
				return nil // nothing (more) matches
			case "204": // end of this batch; more if some are pending
				if m.Header.Get("Nats-Num-Pending") == "0" {
					return nil
				}
			default:
				if len(m.Data) == 0 && m.Header.Get("Status") == "" {
					return errors.New("direct get: an answer without a sequence or status")
				}
				return fmt.Errorf("direct get: %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
			}
			break
		}
	}
}
