package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// its own, instead of through nats.go's asynchronous publish: that one
// decodes every ack with encoding/json, which was the worker's largest CPU
// cost per stored result. An ack is success when it starts {"stream": (the
// server's PubAck); only an error ack is decoded. An ack that does not come
// within ackTimeout (to the second) counts as a transient failure, as
// nats.go's publish timeout did.
//
// Memory is bounded: at most maxPending publishes are in flight, each in a
// slot of its own, and Publish blocks beyond that (backpressure on the
// dispatcher). A slot keeps its reply subject, <inbox>.<slot>.<n>, from one
// publish to the next, so that a publish allocates nothing of its own; it
// takes a new one (n) only when an ack to the old one may still come (the
// publish timed out or failed).
type Publisher struct {
	js    jetstream.JetStream
	nc    *nats.Conn
	log   zerolog.Logger
	ctx   context.Context // ends retries and waits; cancelled after the grace period
	free  chan int        // the indexes of the slots not in use
	inbox string          // acks come to inbox + slot + "." + n; it ends with "."
	sub   *nats.Subscription
	done  chan struct{} // closed once Close has nothing left to wait for
	ticks atomic.Int64  // seconds since the start, counted by expire

	mu       sync.Mutex
	slots    []slot
	replies  uint64         // reply subjects made, which numbers them
	inFlight sync.WaitGroup // publishes not reported yet
	closed   bool
}

// slot is a publish in flight. The publish owns its slot until it is
// reported; mu guards the fields an ack reads.
type slot struct {
	pub     pendingPub
	reply   string // "" until first used
	waiting bool   // an ack to reply is awaited
	stale   bool   // an ack to reply may still come: the next publish takes a new reply
	sent    int64  // the tick it was published at
	use     uint64 // counts the publishes that took the slot
}

type pendingPub struct {
	msg    *nats.Msg
	result *ResultMsg // msg, when it goes back to the pool once reported
	done   Stored
}

// Stored is told the outcome of a publish: nil when stored, else why
// not.
type Stored interface{ Stored(err error) }

// StoredFunc is a function as a Stored.
type StoredFunc func(err error)

// Stored calls f.
func (f StoredFunc) Stored(err error) { f(err) }

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
	p := &Publisher{js: js, nc: js.Conn(), log: log, ctx: ctx, free: make(chan int, maxPending),
		slots: make([]slot, maxPending), done: make(chan struct{})}
	for i := range maxPending {
		p.free <- i
	}
	p.inbox = p.nc.NewInbox() + "."
	sub, err := p.nc.Subscribe(p.inbox+"*.*", p.onAck)
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
	p.publish(pendingPub{msg: msg, done: StoredFunc(done)})
}

// PublishResult is Publish for a message of Results, which goes back to
// their pool once done has been told (a Stored, not a func: the worker
// passes the same one for all of a job's results, without a closure). The
// message's headers are encoded by the message (see publishEncoded): it
// must not be changed but through its methods.
func (p *Publisher) PublishResult(m *ResultMsg, done Stored) {
	m.header, m.encoded = m.appendHeader(m.header[:0])
	p.publish(pendingPub{msg: &m.Msg, result: m, done: done})
}

func (p *Publisher) publish(pp pendingPub) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pp.report(ErrClosed)
		return
	}
	p.inFlight.Add(1)
	p.mu.Unlock()
	var i int
	select {
	case i = <-p.free:
	default:
		select {
		case i = <-p.free:
		case <-p.ctx.Done():
			pp.report(p.ctx.Err())
			p.inFlight.Done()
			return
		}
	}
	p.mu.Lock()
	p.slots[i].pub = pp
	p.slots[i].use++
	p.mu.Unlock()
	if p.sub == nil {
		p.publishSync(i, nil)
		return
	}
	err := p.ctx.Err()
	if err == nil {
		if err = p.send(i); err != nil {
			err = p.retry(pp.msg, "publish failed", err, func() error { return p.send(i) })
		}
	}
	if err != nil {
		p.finish(i, err)
	}
}

// send publishes the message of slot i, whose ack reports it.
func (p *Publisher) send(i int) error {
	p.mu.Lock()
	s := &p.slots[i]
	if s.reply == "" || s.stale {
		p.replies++
		s.reply = p.inbox + strconv.Itoa(i) + "." + strconv.FormatUint(p.replies, 36)
		s.stale = false
	}
	s.waiting, s.sent = true, p.ticks.Load()
	msg, header, use := s.pub.msg, []byte(nil), s.use
	if r := s.pub.result; r != nil && r.encoded && encodedHeaders {
		header = r.header
	}
	msg.Reply = s.reply
	p.mu.Unlock()
	var err error
	if header != nil {
		err = publishEncoded(p.nc, msg.Subject, msg.Reply, true, header, msg.Data)
	} else {
		err = p.nc.PublishMsg(msg)
	}
	if err != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		if s.use != use || !s.waiting {
			return nil // its ack came all the same, and reported it
		}
		s.waiting, s.stale = false, true
	}
	return err
}

// onAck takes the server's answer to one publish.
func (p *Publisher) onAck(m *nats.Msg) {
	i, ok := p.slotOf(m.Subject)
	if !ok {
		return
	}
	p.mu.Lock()
	s := &p.slots[i]
	if !s.waiting || s.reply != m.Subject {
		p.mu.Unlock()
		return // the ack of a publish timed out already, and retried
	}
	s.waiting = false
	p.mu.Unlock()
	if err := ackError(m); err != nil {
		p.failed(i, err)
		return
	}
	p.finish(i, nil)
}

// slotOf returns the slot index that reply subject names.
func (p *Publisher) slotOf(reply string) (int, bool) {
	rest, ok := strings.CutPrefix(reply, p.inbox)
	if !ok {
		return 0, false
	}
	idx, _, _ := strings.Cut(rest, ".")
	i, err := strconv.Atoi(idx)
	return i, err == nil && i >= 0 && i < len(p.slots)
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

// failed reports a permanent failure of the publish in slot i at once
// and retries any other one on a goroutine of its own (the ack goroutine
// must not wait).
func (p *Publisher) failed(i int, err error) {
	if Permanent(err) {
		p.log.Warn().Err(err).Str("subject", p.slots[i].pub.msg.Subject).Msg("publish refused; not retried")
		p.finish(i, err)
		return
	}
	go p.publishSync(i, err)
}

// publishSync stores the message of slot i with synchronous publishes,
// after err (nil for a first try), and reports the outcome.
func (p *Publisher) publishSync(i int, err error) {
	p.mu.Lock()
	msg := *p.slots[i].pub.msg
	p.mu.Unlock()
	msg.Reply = ""
	p.finish(i, p.retry(&msg, "publish not acknowledged", err, func() error {
		ctx, cancel := context.WithTimeout(p.ctx, ackTimeout)
		defer cancel()
		_, err := p.js.PublishMsg(ctx, &msg)
		return err
	}))
}

// finish reports the publish in slot i and frees the slot.
func (p *Publisher) finish(i int, err error) {
	p.mu.Lock()
	pp := p.slots[i].pub
	p.slots[i].pub = pendingPub{}
	p.mu.Unlock()
	p.free <- i
	pp.report(err)
	p.inFlight.Done()
}

// report calls pp's done, then returns its result message to the pool if
// it came from one.
func (pp *pendingPub) report(err error) {
	pp.done.Stored(err)
	if pp.result != nil {
		pp.result.Release()
	}
}

// expire counts the ticks and fails the publishes whose ack is overdue,
// and once the publisher's context ends, every one still waiting (at once,
// then every tick: a publish can start just as the context ends).
func (p *Publisher) expire() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ctxDone := p.ctx.Done()
	for {
		select {
		case <-tick.C:
			p.ticks.Add(1)
		case <-ctxDone:
			ctxDone = nil
		case <-p.done:
			return
		}
		ended, now := p.ctx.Err() != nil, p.ticks.Load()
		var overdue []int
		p.mu.Lock()
		for i := range p.slots {
			if s := &p.slots[i]; s.waiting && (ended || now-s.sent >= ackTicks) {
				s.waiting, s.stale = false, true
				overdue = append(overdue, i)
			}
		}
		p.mu.Unlock()
		for _, i := range overdue {
			if ended {
				p.finish(i, p.ctx.Err()) // nothing waits for it any more
			} else {
				p.failed(i, errAckTimeout)
			}
		}
	}
}

// ackTicks is ackTimeout in expire's ticks.
const ackTicks = int64(ackTimeout / time.Second)

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
