package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Send records are written once per provider request (and per follow-up
// envelope) and never deleted one by one (that would be another JetStream
// write each). Sweep purges them instead, all the old ones in one request,
// once nothing can need them:
//
//   - Reconcile reads a job's records when one of its messages (the job or
//     a retry envelope) is delivered again, or delivered after its consumer
//     lost track of it. Such a message is unacknowledged, so it is still in
//     the jobs stream (a work queue), and every record that matters to it
//     was written after it was stored there. Records older than the oldest
//     job or retry message in the jobs stream belong to messages that are
//     gone: acknowledged, or dead-lettered as poison.
//   - The duplicate check (package dedupe) counts only traces stored within
//     streams.jobs_duplicate_window.
//
// So a record stored before both the oldest job or retry message and the
// start of the duplicate window is never read again. The comparison is of
// the times the servers stored them (of two streams, whose leaders may be
// different servers): skew allows for their clocks' difference.

// sendsStream stores the send-records bucket.
const sendsStream = "KV_" + streams.SendsBucket

// Sweep purges the send records stored before both notBefore (the start of
// the duplicate window) and, less skew, the oldest job or retry message in
// the jobs stream. It returns how many it purged.
func (r *Records) Sweep(ctx context.Context, notBefore time.Time, skew time.Duration) (uint64, error) {
	cut := notBefore
	jobs, err := r.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	for _, subj := range []string{streams.JobsPrefix + ".>", streams.RetryPrefix + ".>"} {
		m, err := jobs.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("sweep: oldest message on %s: %w", subj, err)
		}
		if t := m.Time.Add(-skew); t.Before(cut) {
			cut = t
		}
	}

	sends, err := r.js.Stream(ctx, sendsStream)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	info, err := sends.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	// The first record stored at or after cut; without one, every record
	// stored so far is older.
	keep := info.State.LastSeq + 1
	if seq, ok, err := r.firstSince(ctx, cut); err != nil {
		return 0, err
	} else if ok {
		keep = seq
	}
	if keep <= info.State.FirstSeq || info.State.Msgs == 0 {
		return 0, nil
	}
	if err := sends.Purge(ctx, jetstream.WithPurgeSequence(keep)); err != nil {
		return 0, fmt.Errorf("sweep: purge: %w", err)
	}
	return keep - info.State.FirstSeq, nil
}

// firstSince returns the sequence of the first send record stored at or
// after t, with one direct get (the bucket allows them).
func (r *Records) firstSince(ctx context.Context, t time.Time) (uint64, bool, error) {
	body, err := json.Marshal(struct {
		StartTime time.Time `json:"start_time"`
	}{t.UTC()})
	if err != nil {
		return 0, false, err
	}
	reply, err := r.js.Conn().RequestWithContext(ctx, r.apiPrefix+".DIRECT.GET."+sendsStream, body)
	if err != nil {
		return 0, false, fmt.Errorf("sweep: first record since %s: %w", t.Format(time.RFC3339), err)
	}
	if seq := reply.Header.Get(jetstream.SequenceHeader); seq != "" {
		n, err := strconv.ParseUint(seq, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("sweep: bad sequence %q", seq)
		}
		return n, true, nil
	}
	if reply.Header.Get("Status") == "404" {
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("sweep: first record since %s: %s %s", t.Format(time.RFC3339),
		reply.Header.Get("Status"), reply.Header.Get("Description"))
}
