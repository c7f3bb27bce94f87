package store

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Publisher stores messages in JetStream asynchronously and reports each
// one's outcome once the server has acknowledged it. Acks are collected in
// publish order by one goroutine; a failed publish is retried with backoff
// until it is stored or the publisher's context ends.
//
// Memory is bounded: at most cap(queue) publishes are awaiting acks, and
// publish blocks beyond that (backpressure on the dispatcher).
type Publisher struct {
	js    jetstream.JetStream
	log   zerolog.Logger
	queue chan *pendingPub
	ctx   context.Context // ends the retries; cancelled after the grace period
	done  chan struct{}
}

type pendingPub struct {
	msg  *nats.Msg
	fut  jetstream.PubAckFuture
	done func(error)
}

// NewPublisher starts a publisher that holds at most maxPending publishes
// awaiting acks. ctx ends its retries: cancel it once results need no
// longer be stored.
func NewPublisher(ctx context.Context, js jetstream.JetStream, log zerolog.Logger, maxPending int) *Publisher {
	p := &Publisher{js: js, log: log, queue: make(chan *pendingPub, maxPending), ctx: ctx, done: make(chan struct{})}
	go p.collect()
	return p
}

// Publish stores msg (with its Nats-Msg-Id for de-duplication) and calls
// done exactly once: nil when stored, an error when the publisher gave up.
// done usually runs on the publisher's collecting goroutine, so it must not
// publish (that could wait for itself).
func (p *Publisher) Publish(msg *nats.Msg, done func(error)) {
	pp := &pendingPub{msg: msg, done: done}
	bo := retryBackoff()
	for {
		fut, err := p.js.PublishMsgAsync(msg)
		if err == nil {
			pp.fut = fut
			break
		}
		wait := bo.NextBackOff()
		p.log.Warn().Err(err).Str("subject", msg.Subject).Dur("retry_in", wait).Msg("publish failed, retrying")
		if !sleepCtx(p.ctx, wait) {
			done(err)
			return
		}
	}
	p.queue <- pp
}

func (p *Publisher) collect() {
	defer close(p.done)
	for pp := range p.queue {
		select {
		case <-pp.fut.Ok():
			pp.done(nil)
		case err := <-pp.fut.Err():
			pp.done(p.retrySync(pp.msg, err))
		}
	}
}

// retrySync republishes a message whose async publish failed, waiting for
// each ack, until it is stored or the context ends.
func (p *Publisher) retrySync(msg *nats.Msg, err error) error {
	bo := retryBackoff()
	for {
		wait := bo.NextBackOff()
		p.log.Warn().Err(err).Str("subject", msg.Subject).Dur("retry_in", wait).Msg("publish not acknowledged, retrying")
		if !sleepCtx(p.ctx, wait) {
			return err
		}
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		_, err = p.js.PublishMsg(ctx, msg)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, context.Canceled) && p.ctx.Err() != nil {
			return err
		}
	}
}

// Close waits until every queued publish has been reported. No publish may
// be started after Close.
func (p *Publisher) Close() {
	close(p.queue)
	<-p.done
}

func retryBackoff() backoff.BackOff {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = 5 * time.Second
	bo.MaxElapsedTime = 0 // until the context ends
	return bo
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
