package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Publisher stores messages in JetStream asynchronously and reports each
// one's outcome once the server has acknowledged it. Acks are collected in
// publish order by one goroutine. A publish that fails is retried with
// backoff for at most retryFor, unless it can never succeed (Permanent:
// too large, no stream, no permission), which is reported at once; once the
// publisher's context ends, nothing is retried or waited for any more.
//
// Memory is bounded: at most cap(queue) publishes are awaiting acks, and
// publish blocks beyond that (backpressure on the dispatcher).
type Publisher struct {
	js    jetstream.JetStream
	log   zerolog.Logger
	queue chan *pendingPub
	ctx   context.Context // ends retries and waits; cancelled after the grace period
	done  chan struct{}

	mu     sync.RWMutex // held shared while queueing; Close takes it to close the queue
	closed bool
}

type pendingPub struct {
	msg  *nats.Msg
	fut  jetstream.PubAckFuture
	done func(error)
}

// retryFor bounds how long one message is retried after transient
// failures (NATS restarting, a stream leader being elected). The message's
// job is then handed back to NATS, whose redelivery reconciles with what
// was stored.
const retryFor = time.Minute

// ErrClosed reports a publish after Close.
var ErrClosed = errors.New("store: publisher closed")

// NewPublisher starts a publisher that holds at most maxPending publishes
// awaiting acks. ctx ends its retries and its waits for acks: cancel it
// once results need no longer be stored.
func NewPublisher(ctx context.Context, js jetstream.JetStream, log zerolog.Logger, maxPending int) *Publisher {
	p := &Publisher{js: js, log: log, queue: make(chan *pendingPub, maxPending), ctx: ctx, done: make(chan struct{})}
	go p.collect()
	return p
}

// Publish stores msg (with its Nats-Msg-Id for de-duplication) and calls
// done exactly once: nil when stored, an error when the publisher gave up.
// done usually runs on the publisher's collecting goroutine, so it must not
// publish (that could wait for itself). Publish after Close reports
// ErrClosed.
func (p *Publisher) Publish(msg *nats.Msg, done func(error)) {
	pp := &pendingPub{msg: msg, done: done}
	err := p.retry(msg, "publish failed", nil, func() (err error) {
		pp.fut, err = p.js.PublishMsgAsync(msg)
		return err
	})
	if err == nil {
		err = p.enqueue(pp)
	}
	if err != nil {
		done(err)
	}
}

// enqueue hands pp to the collector.
func (p *Publisher) enqueue(pp *pendingPub) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.queue <- pp:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

func (p *Publisher) collect() {
	defer close(p.done)
	for pp := range p.queue {
		select {
		case <-pp.fut.Ok():
			pp.done(nil)
		case err := <-pp.fut.Err():
			if Permanent(err) {
				p.log.Warn().Err(err).Str("subject", pp.msg.Subject).Msg("publish refused; not retried")
				pp.done(err)
				continue
			}
			pp.done(p.retry(pp.msg, "publish not acknowledged", err, func() error {
				ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
				defer cancel()
				_, err := p.js.PublishMsg(ctx, pp.msg)
				return err
			}))
		case <-p.ctx.Done():
			pp.done(p.ctx.Err()) // nothing waits for it any more
		}
	}
}

// retry runs publish until it succeeds, fails permanently, has been
// retried for retryFor or the publisher's context ends; it returns the
// last error. A non-nil err is a transient failure of msg already seen:
// the first call then waits a backoff.
func (p *Publisher) retry(msg *nats.Msg, what string, err error, publish func() error) error {
	var bo *backoff.ExponentialBackOff // made at the first failure: most publishes succeed at once
	for {
		if err != nil {
			if bo == nil {
				bo = backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
					backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(retryFor))
			}
			wait := bo.NextBackOff()
			if wait == backoff.Stop {
				p.log.Error().Err(err).Str("subject", msg.Subject).Dur("retried_for", retryFor).Msg(what + "; giving up")
				return err
			}
			p.log.Warn().Err(err).Str("subject", msg.Subject).Dur("retry_in", wait).Msg(what + ", retrying")
			if !sleepCtx(p.ctx, wait) {
				return err
			}
		} else if ctxErr := p.ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err = publish(); err == nil {
			return nil
		}
		if Permanent(err) || p.ctx.Err() != nil {
			p.log.Warn().Err(err).Str("subject", msg.Subject).Msg(what + "; not retried")
			return err
		}
	}
}

// Permanent tells whether a publish that failed with err can never
// succeed, however often it is retried: the message is larger than the
// server's max_payload or the stream's max_msg_size, no stream takes its
// subject, the connection may not publish there, or the connection is
// closed. Anything else (a timeout, no responders while a server restarts
// or a stream leader is elected, a full reconnect buffer) is transient.
func Permanent(err error) bool {
	for _, e := range []error{nats.ErrMaxPayload, jetstream.ErrStreamMessageExceedsMaximum, jetstream.ErrStreamNotFound,
		nats.ErrPermissionViolation, nats.ErrConnectionClosed, nats.ErrBadSubject} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Close waits until every queued publish has been reported. A Publish
// after Close reports ErrClosed.
func (p *Publisher) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
	p.mu.Unlock()
	<-p.done
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
