package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Publisher stores messages in JetStream asynchronously and reports each
// one's outcome once the server has acknowledged it. A publish that fails is
// retried with backoff for at most retryFor, unless it can never succeed
// (Permanent: too large, no stream, no permission), which is reported at
// once; once the publisher's context ends, nothing is retried or waited for
// any more.
//
// It handles the server's acknowledgements itself, on one subscription of
// its own (<inbox>.<token> per publish), instead of through nats.go's
// asynchronous publish: that one decodes every ack with encoding/json,
// which was the worker's largest CPU cost per stored result. An ack is
// success when it starts {"stream": (the server's PubAck); only an error
// ack is decoded. An ack that does not come within ackTimeout counts as a
// transient failure, as nats.go's publish timeout did.
//
// Memory is bounded: at most maxPending publishes are awaiting acks, and
// Publish blocks beyond that (backpressure on the dispatcher).
type Publisher struct {
	js    jetstream.JetStream
	nc    *nats.Conn
	log   zerolog.Logger
	ctx   context.Context // ends retries and waits; cancelled after the grace period
	slots chan struct{}   // one per publish awaiting its ack
	inbox string          // acks come to inbox + "." + token
	sub   *nats.Subscription
	done  chan struct{} // closed once Close has nothing left to wait for

	mu       sync.Mutex
	pending  map[string]*pendingPub // by reply token
	next     uint64
	inFlight sync.WaitGroup // publishes not reported yet
	closed   bool
}

type pendingPub struct {
	msg    *nats.Msg
	result *ResultMsg // msg, when it goes back to the pool once reported
	done   func(error)
	sent   time.Time
}

// retryFor bounds how long one message is retried after transient
// failures (NATS restarting, a stream leader being elected). The message's
// job is then handed back to NATS, whose redelivery reconciles with what
// was stored.
const retryFor = time.Minute

// ackTimeout is how long a publish waits for its ack before it is retried.
const ackTimeout = 10 * time.Second

// ErrClosed reports a publish after Close.
var ErrClosed = errors.New("store: publisher closed")

// errAckTimeout reports an ack that did not come within ackTimeout.
var errAckTimeout = errors.New("store: no acknowledgement from JetStream within " + ackTimeout.String())

// NewPublisher starts a publisher that holds at most maxPending publishes
// awaiting acks. ctx ends its retries and its waits for acks: cancel it
// once results need no longer be stored.
func NewPublisher(ctx context.Context, js jetstream.JetStream, log zerolog.Logger, maxPending int) *Publisher {
	p := &Publisher{js: js, nc: js.Conn(), log: log, ctx: ctx, slots: make(chan struct{}, maxPending),
		pending: map[string]*pendingPub{}, done: make(chan struct{})}
	p.inbox = p.nc.NewInbox()
	sub, err := p.nc.Subscribe(p.inbox+".*", p.onAck)
	if err == nil {
		_ = sub.SetPendingLimits(-1, -1) // bounded by slots
		p.sub = sub
	} else {
		log.Warn().Err(err).Msg("cannot subscribe for publish acks; publishing synchronously")
	}
	go p.expire()
	return p
}

// Publish stores msg (with its Nats-Msg-Id for de-duplication) and calls
// done exactly once: nil when stored, an error when the publisher gave up.
// done usually runs on the publisher's ack goroutine, so it must not
// publish (that could wait for itself). Publish after Close reports
// ErrClosed.
func (p *Publisher) Publish(msg *nats.Msg, done func(error)) {
	p.publish(&pendingPub{msg: msg, done: done})
}

// PublishResult is Publish for a message of Results, which goes back to
// their pool once done has run.
func (p *Publisher) PublishResult(m *ResultMsg, done func(error)) {
	p.publish(&pendingPub{msg: &m.Msg, result: m, done: done})
}

func (p *Publisher) publish(pp *pendingPub) {
	msg := pp.msg
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pp.done(ErrClosed)
		pp.release()
		return
	}
	p.inFlight.Add(1)
	p.mu.Unlock()
	select {
	case p.slots <- struct{}{}:
	case <-p.ctx.Done():
		p.report(pp, p.ctx.Err(), false)
		return
	}
	if p.sub == nil {
		p.publishSync(pp, nil)
		return
	}
	err := p.retry(msg, "publish failed", nil, func() error {
		p.mu.Lock()
		p.next++
		tok := strconv.FormatUint(p.next, 36)
		p.pending[tok] = pp
		pp.sent = time.Now()
		p.mu.Unlock()
		msg.Reply = p.inbox + "." + tok
		err := p.nc.PublishMsg(msg)
		if err != nil {
			p.mu.Lock()
			delete(p.pending, tok)
			p.mu.Unlock()
		}
		return err
	})
	if err != nil {
		p.report(pp, err, true)
	}
}

// onAck takes the server's answer to one publish.
func (p *Publisher) onAck(m *nats.Msg) {
	tok := m.Subject[len(p.inbox)+1:]
	p.mu.Lock()
	pp := p.pending[tok]
	delete(p.pending, tok)
	p.mu.Unlock()
	if pp == nil {
		return // timed out already, and retried
	}
	if err := ackError(m); err != nil {
		p.failed(pp, err)
		return
	}
	p.report(pp, nil, true)
}

// ackError reads a publish ack: nil for a stored message, else why not.
func ackError(m *nats.Msg) error {
	if bytes.HasPrefix(m.Data, []byte(`{"stream":`)) {
		return nil
	}
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return jetstream.ErrNoStreamResponse
	}
	var resp struct {
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil || resp.Error == nil {
		return fmt.Errorf("store: unexpected publish ack %.100q", m.Data)
	}
	return resp.Error
}

// failed reports a permanent failure at once and retries any other one on
// a goroutine of its own (the ack goroutine must not wait).
func (p *Publisher) failed(pp *pendingPub, err error) {
	if Permanent(err) {
		p.log.Warn().Err(err).Str("subject", pp.msg.Subject).Msg("publish refused; not retried")
		p.report(pp, err, true)
		return
	}
	go p.publishSync(pp, err)
}

// publishSync stores pp with synchronous publishes, after err (nil for a
// first try), and reports the outcome.
func (p *Publisher) publishSync(pp *pendingPub, err error) {
	msg := *pp.msg
	msg.Reply = ""
	p.report(pp, p.retry(&msg, "publish not acknowledged", err, func() error {
		ctx, cancel := context.WithTimeout(p.ctx, ackTimeout)
		defer cancel()
		_, err := p.js.PublishMsg(ctx, &msg)
		return err
	}), true)
}

// report calls pp's done once, giving back its slot if it holds one.
func (p *Publisher) report(pp *pendingPub, err error, slot bool) {
	if slot {
		<-p.slots
	}
	pp.done(err)
	pp.release()
	p.inFlight.Done()
}

// release returns pp's result message to its pool, if it came from one.
func (pp *pendingPub) release() {
	if pp.result != nil {
		pp.result.Release()
	}
}

// expire fails the publishes whose ack is overdue, and once the
// publisher's context ends, every one still waiting (at once, then every
// tick: a publish can start just as the context ends).
func (p *Publisher) expire() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ctxDone := p.ctx.Done()
	for {
		select {
		case <-tick.C:
		case <-ctxDone:
			ctxDone = nil
		case <-p.done:
			return
		}
		ended, now := p.ctx.Err() != nil, time.Now()
		var overdue []*pendingPub
		p.mu.Lock()
		for tok, pp := range p.pending {
			if ended || now.Sub(pp.sent) >= ackTimeout {
				overdue = append(overdue, pp)
				delete(p.pending, tok)
			}
		}
		p.mu.Unlock()
		for _, pp := range overdue {
			if ended {
				p.report(pp, p.ctx.Err(), true) // nothing waits for it any more
			} else {
				p.failed(pp, errAckTimeout)
			}
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

// Close waits until every publish has been reported. A Publish after
// Close reports ErrClosed.
func (p *Publisher) Close() {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	p.mu.Unlock()
	if !first {
		<-p.done
		return
	}
	p.inFlight.Wait()
	if p.sub != nil {
		_ = p.sub.Unsubscribe()
	}
	close(p.done)
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
