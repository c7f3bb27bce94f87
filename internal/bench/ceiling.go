package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/store"
)

// The ceiling's own streams, beside talkrelay's on the same server.
const (
	ceilJobsStream    = "BENCH_CEIL_JOBS"
	ceilResultsStream = "BENCH_CEIL_RESULTS"
	ceilJobsPrefix    = "bench.ceil.jobs"
	ceilResultsPrefix = "bench.ceil.results"
)

// ceilingResult is what the plain JetStream program achieved.
type ceilingResult struct {
	Jobs, Results int
	Dur           time.Duration
}

// ResultsPerSec is the ceiling's rate of stored results.
func (c ceilingResult) ResultsPerSec() float64 {
	if c.Dur <= 0 {
		return 0
	}
	return float64(c.Results) / c.Dur.Seconds()
}

// runCeiling measures what JetStream alone does on this server with the
// same jobs: a program that consumes the profile's job messages from a
// work-queue stream (file storage, like TALKRELAY_JOBS), publishes one
// result per recipient — the body is a real result event of the worker's
// run, with a Nats-Msg-Id, to a stream configured like TALKRELAY_RESULTS —
// waits for the publish acks and acks the job. Nothing else: no decoding,
// no validation, no batching, no provider call, no send record. For
// single-recipient jobs that is "consume + publish one result + ack"; for
// campaign jobs it is the JetStream publish ceiling of results.
// runCeiling measures the plain JetStream program on w. With
// publishWhileConsuming (the profiles whose jobs the worker consumes while
// they are being published) it publishes while it consumes, as the worker
// had to, timed from the first publish; otherwise the jobs are queued first,
// as for the worker.
func runCeiling(ctx context.Context, ns *server.Server, w workload, resultBody []byte, publishWhileConsuming bool) (ceilingResult, error) {
	var res ceilingResult
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("talkrelay-bench-ceiling"))
	if err != nil {
		return res, err
	}
	defer nc.Close()
	var pubErrs atomic.Int64
	var firstErr atomic.Value
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4000),
		jetstream.WithPublishAsyncTimeout(30*time.Second),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			pubErrs.Add(1)
			firstErr.CompareAndSwap(nil, err)
		}))
	if err != nil {
		return res, err
	}
	for _, sc := range []jetstream.StreamConfig{
		{Name: ceilJobsStream, Subjects: []string{ceilJobsPrefix + ".>"}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Duplicates: time.Hour, MaxMsgSize: 8 << 20},
		{Name: ceilResultsStream, Subjects: []string{ceilResultsPrefix + ".>"}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute},
	} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return res, fmt.Errorf("ceiling: stream %s: %w", sc.Name, err)
		}
	}
	jobsSubject := ceilJobsPrefix + "." + w.account + ".alimtalk"
	if !publishWhileConsuming {
		if _, err := publish(ctx, nc, jobsSubject, w); err != nil {
			return res, fmt.Errorf("ceiling: queue jobs: %w", err)
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, ceilJobsStream, jetstream.ConsumerConfig{
		Durable: "bench-ceiling", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute,
		MaxAckPending: 20000, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return res, err
	}

	type pending struct {
		msg  jetstream.Msg
		futs []jetstream.PubAckFuture
	}
	queue := make(chan pending, 4096)
	done := make(chan struct{})
	var acked int
	go func() {
		defer close(done)
		for p := range queue {
			for _, f := range p.futs {
				select {
				case <-f.Ok():
				case <-f.Err():
				}
			}
			_ = p.msg.Ack()
			acked++
			res.Results += len(p.futs)
			if acked == w.jobs {
				return
			}
		}
	}()
	// Buffer 1000 small jobs ahead, as the worker does; big jobs two at a
	// time: 1000 campaign jobs of 4 MB buffered behind a callback busy
	// publishing 50,000 results gets the connection cut by the server.
	pull := 1000
	if w.recipients > 1 {
		pull = 2
	}
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		subject := ceilResultsPrefix + "." + w.account + ".accepted." + id
		futs := make([]jetstream.PubAckFuture, 0, w.recipients)
		for k := range w.recipients {
			r := nats.NewMsg(subject)
			r.Data = resultBody
			r.Header.Set(jetstream.MsgIDHeader, store.ResultID(id, k, 0))
			for {
				f, err := js.PublishMsgAsync(r)
				if err == nil {
					futs = append(futs, f)
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					pubErrs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					break
				}
			}
		}
		queue <- pending{m, futs}
	}, jetstream.PullMaxMessages(pull))
	if err != nil {
		return res, err
	}
	defer cc.Stop()
	if publishWhileConsuming {
		pub, err := publish(ctx, nc, jobsSubject, w)
		if err != nil {
			return res, fmt.Errorf("ceiling: publish jobs: %w", err)
		}
		start = pub.First
	}
	select {
	case <-done:
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(10 * time.Minute):
		return res, errors.New("ceiling: not done within 10 minutes")
	}
	res.Dur = time.Since(start)
	res.Jobs = acked
	if n := pubErrs.Load(); n > 0 {
		return res, fmt.Errorf("ceiling: %d result publishes failed, the first with %v", n, firstErr.Load())
	}
	return res, nil
}
