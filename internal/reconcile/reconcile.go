// Package reconcile keeps the traces a worker leaves of what it did with a
// job, and reads them back when the job (or one of its retry envelopes) is
// delivered again because a worker stopped before acknowledging it.
//
// Send records live in the talkrelay_sends bucket, under keys that start
// with the job's key (dedupe.JobKey, where the duplicate check looks too):
//
//	<job>.b.<batch id>              recipients handed to a provider in one
//	                                request: [[index, attempt], ...]
//	<job>.e.<parent>.<kind><chunk>  a follow-up envelope of delivery <parent>,
//	                                written before the envelope is scheduled
//
// A redelivered job or envelope reads them to learn what a worker that
// died did before it could acknowledge: recipients sent without a recorded
// answer are looked up, never resent blindly, and envelopes already written
// are scheduled again under the same Nats-Msg-Id (stored once) instead of
// being rebuilt. Recipients whose final result is already stored (read
// from the results stream) are left alone.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

type sendRecord struct {
	At    time.Time `json:"at"`
	Seq   uint64    `json:"seq,omitempty"` // the job message's stream sequence
	Sends [][2]int  `json:"sends"`         // [index, attempt]
}

// appendJSON writes the record as encoding/json would, without reflection
// (one record per job and batch is written before every provider call).
func (r *sendRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"at":"`...)
	b = r.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"', ',')
	if r.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, r.Seq, 10)
		b = append(b, ',')
	}
	b = append(b, `"sends":[`...)
	for i, s := range r.Sends {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(s[0]), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(s[1]), 10)
		b = append(b, ']')
	}
	return append(b, ']', '}')
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

// RecordBatch records, for every job in batch batchID, which of its
// recipients are about to be sent at which attempt, as of now. It returns
// once JetStream stored them.
func (r *Records) RecordBatch(ctx context.Context, batchID string, sends []Send, now time.Time) error {
	byJob := map[string]*sendRecord{}
	order := []string{}
	for _, s := range sends {
		rec := byJob[s.JobID]
		if rec == nil {
			rec = &sendRecord{At: now, Seq: s.JobSeq}
			byJob[s.JobID] = rec
			order = append(order, s.JobID)
		}
		rec.Sends = append(rec.Sends, [2]int{s.Index, s.Attempt})
	}
	futures := make([]jetstream.PubAckFuture, 0, len(order))
	for _, id := range order {
		m := &nats.Msg{Subject: r.kvSubject(jobKey(id) + ".b." + batchID), Data: byJob[id].appendJSON(nil)}
		f, err := r.js.PublishMsgAsync(m)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
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
func (r *Records) Reconcile(account, jobID, parent string, pending []retry.Pending, schedule func(*retry.Envelope)) (skip map[int]bool, sendRecords int, err error) {
	skip, err = r.Finals(account, jobID)
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
	sent := map[int]sendRecordEntry{}
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
		case strings.HasPrefix(k, prefix+".b."):
			var rec sendRecord
			if json.Unmarshal(e.Value(), &rec) != nil {
				continue
			}
			for _, s := range rec.Sends {
				if cur, ok := sent[s[0]]; !ok || s[1] > cur.attempt {
					sent[s[0]] = sendRecordEntry{attempt: s[1], at: rec.At}
				}
			}
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
	err := r.readResults(ctx, streams.JobResultsFilter(account, jobID), func(data []byte) {
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

// readResults calls each with the data of every result stored on subjects
// matching filter, in order. It reads them with batched direct gets, not a
// consumer: a consumer per redelivered job is a JetStream API write each
// (and a cluster-wide proposal in a cluster), and a worker that takes over
// a thousand jobs at once would create a thousand of them.
func (r *Records) readResults(ctx context.Context, filter string, each func([]byte)) error {
	return r.readStream(ctx, streams.ResultsStream, filter, 1, finalsBatch, func(_ uint64, data []byte) bool { each(data); return true })
}

// readStream is readResults of any stream that allows direct gets, from
// sequence from on, batch messages a request; each returns false to stop.
func (r *Records) readStream(ctx context.Context, stream, filter string, from uint64, batch int, each func(seq uint64, data []byte) bool) error {
	nc := r.js.Conn()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	subject := r.apiPrefix + ".DIRECT.GET." + stream
	for seq := from; ; {
		req, _ := json.Marshal(struct {
			Seq   uint64 `json:"seq"`
			Next  string `json:"next_by_subj"`
			Batch int    `json:"batch"`
		}{seq, filter, batch})
		if err := nc.PublishRequest(subject, inbox, req); err != nil {
			return err
		}
		for {
			m, err := sub.NextMsgWithContext(ctx)
			if err != nil {
				return err
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
