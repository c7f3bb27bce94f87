package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Encoded is a job already in its wire form, for a producer that builds
// and validates jobs itself (Job.Encode, or schemas.ValidateJob): the
// Publisher sends Data as it is.
type Encoded struct {
	ID      string
	Account string
	Kind    Kind
	Urgent  bool
	Data    []byte
}

// Subject is where the job is published: JobSubject of its account, kind
// and priority.
func (e *Encoded) Subject() string { return JobSubject(e.Account, e.Kind, e.Urgent) }

// Published is the outcome of one asynchronous publish.
type Published struct {
	Job *Encoded
	// Ack is the jobs stream's answer; nil when Err is set.
	Ack *PublishAck
	// Err says why the job may not be stored: its ack did not come in
	// time, even after the Publisher published it again, or ctx ended.
	// Publishing it again later is safe (same Nats-Msg-Id).
	Err error
}

// Publisher publishes jobs asynchronously, for producers of many jobs: at
// most a bounded number of publishes (and bytes) await their ack at a time,
// and each outcome is reported to a callback, in the order of the Publish
// calls, from one goroutine. A publish whose ack fails (a timeout, no
// responders while a stream leader is elected) is published again
// synchronously with the same Nats-Msg-Id, so a copy the stream did store
// is not stored twice; a retry acked as a duplicate is reported as stored,
// since most likely only the first ack was lost.
//
// Make the JetStream context with jetstream.WithPublishAsyncTimeout (and
// WithPublishAsyncMaxPending at least maxInFlight); the Publisher gives up
// on an ack after PublishTimeout in any case.
type Publisher struct {
	c      *Client
	report func(Published)

	mu       sync.Mutex
	cond     *sync.Cond
	inFlight int // published, not yet reported
	bytes    int
	max      int
	closed   bool

	queue chan inFlight
	done  chan struct{}
}

// PublishTimeout bounds the wait for one ack.
const PublishTimeout = 30 * time.Second

// MaxInFlightBytes bounds the bytes of the publishes awaiting their ack, so
// that big jobs do not pile up in memory; a larger job goes alone.
const MaxInFlightBytes = 64 << 20

// publishRetries is how often a failed async publish is published again.
const publishRetries = 2

type inFlight struct {
	ctx context.Context
	job *Encoded
	fut jetstream.PubAckFuture
	err error // PublishMsgAsync itself failed
}

// NewPublisher returns a Publisher with at most maxInFlight publishes
// awaiting their ack, which calls report (if not nil) with each outcome.
// report runs on the Publisher's goroutine: a slow report slows publishing.
// Close it when done.
func (c *Client) NewPublisher(maxInFlight int, report func(Published)) *Publisher {
	maxInFlight = max(maxInFlight, 1)
	p := &Publisher{c: c, report: report, max: maxInFlight,
		queue: make(chan inFlight, maxInFlight), done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go p.collect()
	return p
}

// Publish validates j (an *InvalidJobError, and nothing published) and
// publishes it as PublishEncoded does. The trace context of ctx goes with
// it, as with Client.Publish.
func (p *Publisher) Publish(ctx context.Context, j *Job) error {
	data, err := j.Encode()
	if err != nil {
		return err
	}
	return p.publish(ctx, &Encoded{ID: j.ID, Account: j.Account, Kind: j.Kind, Urgent: j.Priority == Urgent, Data: data})
}

// PublishEncoded publishes e to its subject with Nats-Msg-Id set to its id,
// without validating it. It blocks while the in-flight bound is reached,
// and returns an error only when ctx ended before the job was sent; the
// outcome goes to the report. e and e.Data must not be changed until then.
// ctx also bounds the retries of this job.
func (p *Publisher) PublishEncoded(ctx context.Context, e *Encoded) error {
	return p.publish(ctx, e)
}

func (p *Publisher) publish(ctx context.Context, e *Encoded) error {
	if err := p.acquire(ctx, len(e.Data)); err != nil {
		return err
	}
	msg := nats.NewMsg(e.Subject())
	msg.Data = e.Data
	injectTrace(ctx, msg)
	fut, err := p.c.js.PublishMsgAsync(msg, jetstream.WithMsgID(e.ID))
	p.queue <- inFlight{ctx: ctx, job: e, fut: fut, err: err}
	return nil
}

// acquire waits for room for one more publish of n bytes.
func (p *Publisher) acquire(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, p.wake)
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("talkrelay: publish on a closed Publisher")
	}
	// Every publish in flight ends (ack, error or PublishTimeout), so this
	// wait is bounded.
	for p.inFlight >= p.max || (p.inFlight > 0 && p.bytes+n > MaxInFlightBytes) {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.cond.Wait()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.inFlight++
	p.bytes += n
	return nil
}

// wake wakes the waits of acquire and Flush to look at their ctx.
func (p *Publisher) wake() {
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}

// collect reports the outcomes in publish order; acks arrive in about that
// order, so waiting on the oldest first costs nothing.
func (p *Publisher) collect() {
	defer close(p.done)
	for f := range p.queue {
		ack, err := f.ack()
		retried := false
		if err != nil && f.fut != nil {
			ack, err = p.retry(f, err)
			retried = true
		}
		out := Published{Job: f.job, Err: err}
		if err != nil {
			out.Err = publishError(f.job, err)
		} else {
			out.Ack = &PublishAck{Subject: f.job.Subject(), Sequence: ack.Sequence, Duplicate: ack.Duplicate && !retried}
		}
		if p.report != nil {
			p.report(out)
		}
		p.mu.Lock()
		p.inFlight--
		p.bytes -= len(f.job.Data)
		p.mu.Unlock()
		p.cond.Broadcast()
	}
}

func (f inFlight) ack() (*jetstream.PubAck, error) {
	if f.err != nil {
		return nil, f.err
	}
	t := time.NewTimer(PublishTimeout)
	defer t.Stop()
	select {
	case ack := <-f.fut.Ok():
		return ack, nil
	case err := <-f.fut.Err():
		return nil, err
	case <-t.C:
		return nil, jetstream.ErrAsyncPublishTimeout
	}
}

// retry publishes a job again after its async publish failed.
func (p *Publisher) retry(f inFlight, err error) (*jetstream.PubAck, error) {
	for range publishRetries {
		if f.ctx.Err() != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(f.ctx, PublishTimeout)
		msg := nats.NewMsg(f.fut.Msg().Subject)
		msg.Header = f.fut.Msg().Header
		msg.Data = f.job.Data
		var ack *jetstream.PubAck
		ack, err = p.c.js.PublishMsg(ctx, msg, jetstream.WithMsgID(f.job.ID), jetstream.WithRetryAttempts(5))
		cancel()
		if err == nil {
			return ack, nil
		}
	}
	return nil, err
}

func publishError(e *Encoded, err error) error {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return fmt.Errorf("talkrelay: publish job %s to %s: %w (%w)", e.ID, e.Subject(), err, ErrNotSetUp)
	}
	return fmt.Errorf("talkrelay: publish job %s to %s: %w", e.ID, e.Subject(), err)
}

// Flush waits until every job published so far has been reported, or ctx
// ends.
func (p *Publisher) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, p.wake)
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inFlight > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.cond.Wait()
	}
	return nil
}

// Close waits until every job published has been reported and stops the
// Publisher. Publish must not be called during or after Close.
func (p *Publisher) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.queue)
	<-p.done
}
