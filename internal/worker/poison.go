package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A job whose handling keeps crashing the worker or outlasting its ack wait
// is redelivered until worker.max_deliver; then JetStream gives up on it
// (it stays in the work-queue stream) and publishes an advisory, which the
// poison stream stores, so that it waits for a worker even when the poison
// job just crashed the only one. The workers share one durable consumer of
// that stream: one of them copies the job to the dead-letter subject, gives
// its recipients without a final result a failed result with reason
// "poison", deletes it from the jobs stream and only then acknowledges the
// advisory. Any failure on the way leaves the advisory to be delivered
// again.

type maxDeliverAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// poisonAckWait is how long an advisory may be in handling before NATS
// hands it to another worker: longer than poison takes (its reads are
// bounded by a minute).
const poisonAckWait = 2 * time.Minute

// poisonWatch handles the stored advisories, one at a time, on a goroutine
// of its own.
type poisonWatch struct {
	it   jetstream.MessagesContext
	busy atomic.Bool // an advisory is in handling
	done chan struct{}
	once sync.Once
}

func (w *Worker) watchPoison(ctx context.Context) (*poisonWatch, error) {
	cons, err := w.js.CreateOrUpdateConsumer(ctx, streams.PoisonStream, jetstream.ConsumerConfig{
		Durable:    w.cfg.Worker.Consumer,
		AckPolicy:  jetstream.AckExplicitPolicy,
		AckWait:    poisonAckWait,
		MaxDeliver: -1,
	})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return nil, err
	}
	p := &poisonWatch{it: it, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			m, err := it.Next()
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if err != nil {
				w.log.Warn().Err(err).Msg("poison: reading max-deliveries advisories")
				continue
			}
			p.busy.Store(true)
			w.handleAdvisory(m)
			p.busy.Store(false)
		}
	}()
	return p, nil
}

// stop stops taking advisories; wait waits for the one in handling.
func (p *poisonWatch) stop() { p.once.Do(p.it.Stop) }
func (p *poisonWatch) wait() { p.stop(); <-p.done }

func (w *Worker) handleAdvisory(m jetstream.Msg) {
	var a maxDeliverAdvisory
	if err := json.Unmarshal(m.Data(), &a); err != nil || a.StreamSeq == 0 {
		w.log.Warn().Err(err).Msg("unreadable max-deliveries advisory")
		_ = m.Term()
		return
	}
	if !strings.HasPrefix(a.Consumer, w.cfg.Worker.Consumer+"-") {
		_ = m.Ack() // another application's consumer on the jobs stream
		return
	}
	if !w.poison(a) {
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	_ = m.Ack()
}

// poison dead-letters the job of advisory a; it reports whether that is
// done (or the job was gone already).
func (w *Worker) poison(a maxDeliverAdvisory) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := w.log.With().Uint64("stream_seq", a.StreamSeq).Logger()
	stream, err := w.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		log.Error().Err(err).Msg("poison: jobs stream")
		return false
	}
	raw, err := stream.GetMsg(ctx, a.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		log.Warn().Msg("poison: job no longer in the stream")
		return true
	}
	if err != nil {
		log.Error().Err(err).Msg("poison: read the job")
		return false
	}
	reason := fmt.Sprintf("delivered %d times without being finished (the worker crashed or timed out on it)", a.Deliveries)
	j, indexes := poisonRecipients(raw)
	log = log.With().Str("job_id", j.ID).Str("account", j.Account).Logger()
	log.Error().Str("reason", reason).Msg("poison job dead-lettered")

	var events []*result.Event
	if j.ID != "" {
		done, err := w.records.Finals(j.Account, j.ID)
		if err != nil {
			log.Error().Err(err).Msg("poison: cannot read stored results; trying again")
			return false
		}
		provider := ""
		if acct := w.accounts[j.Account]; acct != nil {
			provider = acct.Provider
		}
		for pos, idx := range indexes {
			if done[idx] {
				continue
			}
			ev := result.ForRecipient(j, pos, provider, w.clock.Now())
			ev.RecipientIndex = idx
			events = append(events, ev)
		}
	}
	if len(indexes) == 0 {
		events = append(events, result.ForRecipient(j, -1, "", w.clock.Now()))
	}

	var wg sync.WaitGroup
	var failed bool
	var mu sync.Mutex
	publish := func(m *nats.Msg) {
		wg.Add(1)
		w.pub.Publish(m, func(err error) {
			if err != nil {
				mu.Lock()
				failed = true
				mu.Unlock()
			}
			wg.Done()
		})
	}
	dl := &store.DeadLetter{Account: j.Account, JobID: j.ID, Subject: raw.Subject,
		Reason: string(result.ReasonPoison) + ": " + reason, Header: raw.Header, Data: raw.Data}
	publish(dl.MsgWithin(a.StreamSeq, int(w.nc.MaxPayload())))
	for _, ev := range events {
		ev.Account = streams.Token(ev.Account)
		ev.Status, ev.Reason, ev.Message = result.Failed, result.ReasonPoison, reason
		w.metrics.result(ev, w.accounts[ev.Account] != nil)
		publish(store.Result(store.Origin{Seq: a.StreamSeq}, ev))
	}
	wg.Wait()
	if failed {
		log.Error().Msg("poison: dead letter or results not stored; trying again")
		return false
	}
	if err := stream.DeleteMsg(ctx, a.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		log.Warn().Err(err).Msg("poison: delete from the jobs stream; trying again")
		return false
	}
	w.metrics.deadLetter(string(result.ReasonPoison))
	return true
}

// poisonRecipients reads a poison message as a job or an envelope: the job
// and the original indexes of the recipients it carries.
func poisonRecipients(raw *jetstream.RawStreamMsg) (*job.Job, []int) {
	if strings.HasPrefix(raw.Subject, streams.RetryPrefix+".") {
		if env, err := retry.Decode(raw.Data); err == nil {
			idx := make([]int, len(env.Pending))
			for i, p := range env.Pending {
				idx[i] = p.Index
			}
			return env.Job, idx
		}
		return &job.Job{}, nil
	}
	if j, err := job.Decode(raw.Data); err == nil {
		idx := make([]int, len(j.Recipients))
		for i := range idx {
			idx[i] = i
		}
		return j, idx
	}
	acct, _, _, _ := streams.ParseJobSubject(raw.Subject)
	return probeJob(raw.Data, raw.Header, acct), nil
}
