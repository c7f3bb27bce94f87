package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// inflightJob is a job message between delivery and its final ack: it is
// acknowledged (or terminated, for a rejected job) only once every one of
// its result events is stored.
type inflightJob struct {
	msg       jetstream.Msg
	id        string
	account   string
	log       zerolog.Logger
	span      trace.Span
	remaining atomic.Int64
	failed    atomic.Bool // a result could not be stored: hand the job back
	terminate string      // non-empty: Term with this reason instead of Ack
	received  time.Time
	seq       uint64 // stream sequence of the job message
}

// tracker holds the in-flight jobs of this replica.
type tracker struct {
	mu   sync.Mutex
	jobs map[*inflightJob]struct{}
	wg   sync.WaitGroup
}

func newTracker() *tracker { return &tracker{jobs: map[*inflightJob]struct{}{}} }

func (t *tracker) add(j *inflightJob) {
	t.wg.Add(1)
	t.mu.Lock()
	t.jobs[j] = struct{}{}
	t.mu.Unlock()
}

func (t *tracker) remove(j *inflightJob) {
	t.mu.Lock()
	delete(t.jobs, j)
	t.mu.Unlock()
	t.wg.Done()
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.jobs)
}

// touch tells NATS that jobs received more than age ago are still being
// worked on, so that their ack wait starts over.
func (t *tracker) touch(age time.Duration) {
	t.mu.Lock()
	old := make([]*inflightJob, 0)
	now := time.Now()
	for j := range t.jobs {
		if now.Sub(j.received) > age {
			old = append(old, j)
		}
	}
	t.mu.Unlock()
	for _, j := range old {
		_ = j.msg.InProgress()
	}
}

// handle processes one delivered job message.
func (w *Worker) handle(msg jetstream.Msg) {
	recv := time.Now()
	data := msg.Data()
	log := w.log.With().Str("subject", msg.Subject()).Logger()

	if len(data) > w.cfg.Worker.MaxJobBytes {
		id, acct, kind := probeIdentity(data)
		w.reject(msg, recv, log, &job.Job{ID: id, Account: acct, Kind: job.Kind(kind)}, result.ReasonOversized,
			fmt.Sprintf("job is %d bytes, more than worker.max_job_bytes (%d)", len(data), w.cfg.Worker.MaxJobBytes), false)
		return
	}
	j, err := job.Decode(data)
	if err != nil {
		var je *job.Error
		errors.As(err, &je)
		w.reject(msg, recv, log, &job.Job{ID: je.ID, Account: je.Account, Kind: job.Kind(je.Kind)}, result.ReasonInvalidJob, err.Error(), false)
		return
	}
	log = log.With().Str("job_id", j.ID).Str("account", j.Account).Logger()
	acct := w.disp.Account(j.Account)
	if acct == nil {
		w.reject(msg, recv, log, j, result.ReasonUnknownAccount,
			fmt.Sprintf("account %q is not configured on this worker", j.Account), true)
		return
	}
	if j.Deadline != nil && !j.Deadline.After(recv) {
		w.reject(msg, recv, log, j, result.ReasonDeadlineExceeded,
			"deadline "+j.Deadline.UTC().Format(time.RFC3339)+" passed before the job was sent", true)
		return
	}

	ctx := extractTrace(context.Background(), msg.Headers())
	_, span := w.tracer.Start(ctx, "talkrelay.job", trace.WithSpanKind(trace.SpanKindConsumer))
	traceID := span.SpanContext().TraceID().String()
	ij := &inflightJob{msg: msg, id: j.ID, account: j.Account, log: log, span: span, received: recv, seq: streamSeq(msg)}
	ij.remaining.Store(int64(len(j.Recipients)))
	w.track.add(ij)

	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 1 {
		log.Info().Uint64("delivery", md.NumDelivered).Msg("job redelivered")
	}
	items := make([]*dispatch.Item, 0, len(j.Recipients))
	for i := range j.Recipients {
		m := providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1}
		if err := acct.Client.Check(&m); err != nil {
			ev := result.ForRecipient(j, i, acct.Provider, time.Now())
			ev.Status, ev.Reason, ev.Message, ev.TraceID = result.Rejected, result.ReasonInvalidRecipient, err.Error(), traceID
			w.storeResult(ij, ev)
			continue
		}
		items = append(items, dispatch.NewItem(acct, m, traceID, ij))
	}
	log.Debug().Int("recipients", len(j.Recipients)).Int("to_send", len(items)).Msg("job accepted for sending")
	w.disp.Submit(items)
}

// onResult receives the dispatcher's result events.
func (w *Worker) onResult(it *dispatch.Item, ev *result.Event) {
	w.storeResult(it.Owner.(*inflightJob), ev)
}

// storeResult publishes ev and settles the job once all its results are stored.
func (w *Worker) storeResult(ij *inflightJob, ev *result.Event) {
	w.metrics.result(ev)
	data, err := json.Marshal(ev)
	if err != nil { // cannot happen with these types
		panic(err)
	}
	m := nats.NewMsg(streams.ResultSubject(ev.Account, string(ev.Status)))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, resultMsgID(ij, ev))
	injectTrace(ij.span, m.Header)
	w.pub.publish(m, func(err error) {
		if err != nil {
			ij.failed.Store(true)
			ij.log.Error().Err(err).Int("recipient", ev.RecipientIndex).Msg("result not stored; the job will be redelivered")
		}
		if ij.remaining.Add(-1) == 0 {
			w.settle(ij)
		}
	})
}

// resultMsgID de-duplicates the results of a redelivered job. A job whose
// id could not be read is identified by its stream sequence instead.
func resultMsgID(ij *inflightJob, ev *result.Event) string {
	if ev.JobID == "" {
		return "seq/" + strconv.FormatUint(ij.seq, 10)
	}
	return ev.JobID + "/" + strconv.Itoa(ev.RecipientIndex) + "/" + strconv.Itoa(ev.Attempt)
}

// settle acks (or terminates) a job whose results are all stored, or hands
// it back for redelivery when one could not be stored.
func (w *Worker) settle(ij *inflightJob) {
	defer w.track.remove(ij)
	defer ij.span.End()
	var err error
	switch {
	case ij.failed.Load():
		err = ij.msg.Nak()
	case ij.terminate != "":
		err = ij.msg.TermWithReason(ij.terminate)
	default:
		err = ij.msg.Ack()
	}
	if err != nil {
		ij.log.Warn().Err(err).Msg("job settled but its ack was not sent; NATS will redeliver it")
		return
	}
	ij.log.Debug().Dur("took", time.Since(ij.received)).Msg("job done")
}

// reject dead-letters a job and publishes its rejection: one event per
// recipient when the job could be read (perRecipient), else one event with
// recipient index -1. The message is terminated once all of it is stored.
func (w *Worker) reject(msg jetstream.Msg, recv time.Time, log zerolog.Logger, j *job.Job, reason result.Reason, why string, perRecipient bool) {
	status := result.Rejected
	if reason == result.ReasonDeadlineExceeded {
		status = result.Failed
	}
	log.Warn().Str("job_id", j.ID).Str("reason", string(reason)).Str("detail", why).Msg("job dead-lettered")
	_, span := w.tracer.Start(extractTrace(context.Background(), msg.Headers()), "talkrelay.job.reject")
	traceID := span.SpanContext().TraceID().String()
	ij := &inflightJob{msg: msg, id: j.ID, account: j.Account, log: log, span: span, received: recv,
		terminate: string(reason) + ": " + why, seq: streamSeq(msg)}
	events := []*result.Event{}
	provider := ""
	if a := w.disp.Account(j.Account); a != nil {
		provider = a.Provider
	}
	if perRecipient && len(j.Recipients) > 0 {
		for i := range j.Recipients {
			events = append(events, result.ForRecipient(j, i, provider, time.Now()))
		}
	} else {
		events = append(events, result.ForRecipient(j, -1, provider, time.Now()))
	}
	ij.remaining.Store(int64(len(events)) + 1) // + the dead letter
	w.track.add(ij)

	dl := nats.NewMsg(streams.DLQSubject(j.Account))
	dl.Data = msg.Data()
	for k, v := range msg.Headers() {
		dl.Header[k] = v
	}
	dl.Header.Del(jetstream.MsgIDHeader)
	dl.Header.Set(streams.HeaderReason, string(reason)+": "+why)
	dl.Header.Set(streams.HeaderSubject, msg.Subject())
	if j.ID != "" {
		dl.Header.Set(streams.HeaderJobID, j.ID)
	}
	dl.Header.Set(jetstream.MsgIDHeader, "dlq/"+strconv.FormatUint(ij.seq, 10))
	w.pub.publish(dl, func(err error) {
		if err != nil {
			ij.failed.Store(true)
		}
		if ij.remaining.Add(-1) == 0 {
			w.settle(ij)
		}
	})
	for _, ev := range events {
		if ev.Account == "" {
			ev.Account = streams.NoAccount
		}
		ev.Status, ev.Reason, ev.Message, ev.TraceID = status, reason, why, traceID
		w.storeResult(ij, ev)
	}
}

func streamSeq(msg jetstream.Msg) uint64 {
	if md, err := msg.Metadata(); err == nil {
		return md.Sequence.Stream
	}
	return 0
}

// probeIdentity reads id, account and kind from a job too large to validate.
func probeIdentity(data []byte) (id, account, kind string) {
	var p struct {
		ID      any `json:"id"`
		Account any `json:"account"`
		Kind    any `json:"kind"`
	}
	if json.Unmarshal(data, &p) == nil {
		id, _ = p.ID.(string)
		account, _ = p.Account.(string)
		kind, _ = p.Kind.(string)
	}
	return id, account, kind
}
