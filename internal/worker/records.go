package worker

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
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Send records live in the talkrelay_sends bucket, under keys that start
// with the job's key:
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
// being rebuilt.

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

// beforeSend records, for every job in b, which of its recipients are
// about to be sent at which attempt. It returns once JetStream stored them.
func (w *Worker) beforeSend(ctx context.Context, b *providers.Batch, items []*dispatch.Item) error {
	byJob := map[string]*sendRecord{}
	order := []string{}
	now := w.clock.Now()
	for i, m := range b.Messages {
		r := byJob[m.Job.ID]
		if r == nil {
			r = &sendRecord{At: now, Seq: items[i].Owner.(itemRef).d.jobSeq}
			byJob[m.Job.ID] = r
			order = append(order, m.Job.ID)
		}
		r.Sends = append(r.Sends, [2]int{m.Index, m.Attempt})
	}
	futures := make([]jetstream.PubAckFuture, 0, len(order))
	for _, id := range order {
		m := &nats.Msg{Subject: w.kvSubject(jobKey(id) + ".b." + b.ID), Data: byJob[id].appendJSON(nil)}
		f, err := w.js.PublishMsgAsync(m)
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

func (w *Worker) kvSubject(key string) string { return "$KV." + streams.SendsBucket + "." + key }

// deliveryID names a delivery in the envelope lineage: the job token for a
// fresh job, the envelope's own id for an envelope.
func (d *delivery) id() string {
	if d.envID != "" {
		return d.envID
	}
	return streams.JobToken(d.job.ID)
}

// reconcile prepares a redelivered delivery: it returns the recipients
// (original indexes) to leave alone — those with a stored final result and
// those already handed to a follow-up envelope, which it stores again —
// and marks recipients sent without a recorded answer for a lookup.
func (w *Worker) reconcile(d *delivery) (map[int]bool, error) {
	skip, err := w.finalsOf(d.job.Account, d.job.ID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := jobKey(d.job.ID)
	keys, err := w.sends.ListKeysFiltered(ctx, prefix+".>")
	if err != nil {
		return nil, fmt.Errorf("list send records: %w", err)
	}
	sent := map[int]sendRecordEntry{}
	envPrefix := prefix + ".e." + streams.HashToken(d.id()) + "."
	for k := range keys.Keys() {
		e, err := w.sends.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read send record: %w", err)
		}
		switch {
		case strings.HasPrefix(k, prefix+".b."):
			var r sendRecord
			if json.Unmarshal(e.Value(), &r) != nil {
				continue
			}
			for _, s := range r.Sends {
				if cur, ok := sent[s[0]]; !ok || s[1] > cur.attempt {
					sent[s[0]] = sendRecordEntry{attempt: s[1], at: r.At}
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
			w.scheduleEnvelope(d, env)
		}
	}
	for pos := range d.pending {
		p := &d.pending[pos]
		if skip[p.Index] {
			continue
		}
		if r, ok := sent[p.Index]; ok && r.attempt > p.Attempts {
			p.Attempts, p.Lookup, p.Lookups = r.attempt, true, 0
			p.LastSentAt = r.at
			if p.FirstSentAt.IsZero() {
				p.FirstSentAt = r.at
			}
			p.Last = retry.Outcome{Class: providers.Unknown.String(), Reason: result.ReasonOutcomeUnknown,
				Message: "a worker stopped after handing this message to the provider, before recording the answer"}
		}
	}
	if n := len(skip); n > 0 || len(sent) > 0 {
		d.logger().Info().Int("already_final_or_scheduled", n).Int("send_records", len(sent)).Msg("reconciled")
	}
	return skip, nil
}

type sendRecordEntry struct {
	attempt int
	at      time.Time
}

// finalsOf returns the recipient indexes of job that have a final result
// stored.
func (w *Worker) finalsOf(account, jobID string) (map[int]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := map[int]bool{}
	cons, err := w.js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.JobResultsFilter(account, jobID)},
	})
	if err != nil {
		return nil, fmt.Errorf("read stored results: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read stored results: %w", err)
	}
	for remaining := info.NumPending; remaining > 0; {
		batch, err := cons.Fetch(int(min(remaining, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read stored results: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			var ev struct {
				Index int `json:"recipient_index"`
			}
			if json.Unmarshal(m.Data(), &ev) == nil {
				done[ev.Index] = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("read stored results: %w", err)
		}
		if got == 0 {
			return nil, errors.New("read stored results: no progress")
		}
		remaining -= uint64(got)
	}
	return done, nil
}
