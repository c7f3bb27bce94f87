package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
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
// (it stays in the work-queue stream) and publishes an advisory. One worker
// of the fleet (a queue subscription) takes it: the job is copied to the
// dead-letter subject, its recipients without a final result get a failed
// result with reason "poison", and it is deleted from the jobs stream.

type maxDeliverAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

func (w *Worker) watchPoison() (*nats.Subscription, error) {
	// One advisory subject per lane consumer: <consumer>-<account>[-urgent].
	subj := "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + streams.JobsStream + ".*"
	return w.nc.QueueSubscribe(subj, "talkrelay-poison", func(m *nats.Msg) {
		var a maxDeliverAdvisory
		if err := json.Unmarshal(m.Data, &a); err != nil || a.StreamSeq == 0 {
			w.log.Warn().Err(err).Msg("unreadable max-deliveries advisory")
			return
		}
		if !strings.HasPrefix(a.Consumer, w.cfg.Worker.Consumer+"-") {
			return // another application's consumer on the jobs stream
		}
		go w.poison(a)
	})
}

func (w *Worker) poison(a maxDeliverAdvisory) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := w.log.With().Uint64("stream_seq", a.StreamSeq).Logger()
	stream, err := w.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		log.Error().Err(err).Msg("poison: jobs stream")
		return
	}
	raw, err := stream.GetMsg(ctx, a.StreamSeq)
	if err != nil {
		log.Warn().Err(err).Msg("poison: job no longer in the stream")
		return
	}
	reason := fmt.Sprintf("delivered %d times without being finished (the worker crashed or timed out on it)", a.Deliveries)
	j, indexes := poisonRecipients(raw)
	log = log.With().Str("job_id", j.ID).Str("account", j.Account).Logger()
	log.Error().Str("reason", reason).Msg("poison job dead-lettered")

	var events []*result.Event
	if j.ID != "" {
		done, err := w.records.Finals(j.Account, j.ID)
		if err != nil {
			log.Error().Err(err).Msg("poison: cannot read stored results; leaving the job for the next advisory")
			return
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
		if ev.Account == "" {
			ev.Account = streams.NoAccount
		}
		ev.Status, ev.Reason, ev.Message = result.Failed, result.ReasonPoison, reason
		w.metrics.result(ev, w.accounts[ev.Account] != nil)
		publish(store.Result(store.Origin{Seq: a.StreamSeq}, ev))
	}
	wg.Wait()
	if failed {
		log.Error().Msg("poison: dead letter or results not stored; the job stays in the stream")
		return
	}
	if err := stream.DeleteMsg(ctx, a.StreamSeq); err != nil {
		log.Warn().Err(err).Msg("poison: delete from the jobs stream")
	}
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
	id, acct, kind := probeIdentity(raw.Data)
	return &job.Job{ID: id, Account: acct, Kind: job.Kind(kind)}, nil
}
