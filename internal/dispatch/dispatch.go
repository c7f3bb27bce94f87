// Package dispatch turns recipients into provider requests: it batches
// recipients of many jobs by batch key up to each provider's limit, keeps
// each account within its concurrency and rate limits, calls the provider
// and reports one result event per recipient.
//
// Each account has its own queue of ready batches and its own admission
// loop, so a slow provider or a low rate limit on one account never holds
// up another's. Within an account, urgent batches (any item urgent) go
// before normal ones already queued. Submit never blocks on a provider:
// the worker bounds what it submits by what it holds (its intake credits).
//
// dispatch knows nothing of NATS: the worker feeds it items and stores the
// results it reports.
package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Account is a provider account as dispatch uses it.
type Account struct {
	Name     string
	Provider string // provider name: sandbox, naver, nhn, kakao
	Client   providers.Provider
	// Sender is the default sender profile.
	Sender         string
	Limiter        ratelimit.Limiter
	MaxConcurrency int
	RequestTimeout time.Duration
	// Feedback, if set, is told when the provider throttles a request.
	Feedback ratelimit.Feedback
}

// Item is one recipient on its way to a provider.
type Item struct {
	providers.Message
	// Source is what the item shares with the other items of its job.
	*Source
	// Pos is the caller's position of the item in its job, returned with
	// the result.
	Pos int
}

// Source is what the items of one job with the same batch key share: one
// value per job, not per recipient.
type Source struct {
	Key providers.Key
	// Span is the span of the job: the span of the provider request that
	// carries an item links to it.
	Span trace.SpanContext
	// Urgent items overtake the account's queued normal items.
	Urgent bool
	// Owner is the caller's handle for the job, returned with the result.
	Owner any
}

// OutcomeFunc receives each item's provider outcome and when its request
// was sent: zero when the provider was never called (the send record was
// not stored, or the grace period ended before admission). It is called
// from many goroutines and may block (backpressure).
type OutcomeFunc func(it *Item, o *providers.Outcome, sentAt time.Time)

// Config tunes the dispatcher.
type Config struct {
	Linger time.Duration
	Tracer trace.Tracer
	Log    zerolog.Logger
	// Now is the worker's clock, which dates each send (sentAt); default
	// time.Now. Request durations are measured on the real clock.
	Now func() time.Time
	// BeforeSend, if set, runs right before each provider call, after the
	// rate limiter admitted it; an error means the batch is not sent and
	// every item gets a retryable outcome. The worker records there which
	// recipients are about to be sent.
	BeforeSend func(ctx context.Context, b *providers.Batch, items []*Item) error
	// Fence, if set, returns the items of a batch this process may still
	// send, in order. It runs when a batch is taken for admission, and
	// again before BeforeSend and after it, right before the provider
	// request: the worker drops there the items of jobs it may no longer
	// hold. Items it drops are not sent and get no outcome.
	Fence func(items []*Item) []*Item
	// OnRequest, if set, observes each provider call: the recipients it
	// carried, how long it took and "ok" or the failure class.
	OnRequest func(account, provider string, recipients int, took time.Duration, outcome string)
	// Calls, if set, ends the dispatcher's provider calls when it is done,
	// as Close does once its grace period is over: calls in flight are
	// cancelled, and batches not yet admitted are reported without a call.
	Calls context.Context
}

// Dispatcher batches and sends items.
type Dispatcher struct {
	cfg       Config
	accounts  map[string]*account
	batcher   *Batcher
	onOutcome OutcomeFunc

	// sendCtx bounds provider calls; it is cancelled only when the
	// shutdown grace period is over.
	sendCtx    context.Context
	cancelSend context.CancelFunc
	// inflight counts batches from emission until every item reported:
	// queued, waiting for admission and in provider calls.
	inflight sync.WaitGroup
	loops    sync.WaitGroup
	closing  atomic.Bool // Close began: see answer
}

type account struct {
	*Account
	slots chan struct{}
	// lookups caps the slots lookups hold (see Lookup).
	lookups chan struct{}

	mu     sync.Mutex
	urgent []batch // FIFO, sent before normal
	normal []batch
	closed bool
	wake   chan struct{} // cap 1: something was queued, or closed
}

type batch struct {
	key   providers.Key
	items []*Item
}

// New returns a dispatcher for accounts.
func New(cfg Config, accounts []*Account, onOutcome OutcomeFunc) *Dispatcher {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dispatcher{cfg: cfg, accounts: map[string]*account{}, onOutcome: onOutcome}
	calls := cfg.Calls
	if calls == nil {
		calls = context.Background()
	}
	d.sendCtx, d.cancelSend = context.WithCancel(calls)
	for _, a := range accounts {
		acct := &account{Account: a, slots: make(chan struct{}, a.MaxConcurrency),
			lookups: make(chan struct{}, max(1, a.MaxConcurrency-1)), wake: make(chan struct{}, 1)}
		d.accounts[a.Name] = acct
		d.loops.Add(1)
		go d.admit(acct)
	}
	d.batcher = NewBatcher(cfg.Linger, d.limit, d.send)
	return d
}

// Account returns the named account, or nil.
func (d *Dispatcher) Account(name string) *Account {
	if a := d.accounts[name]; a != nil {
		return a.Account
	}
	return nil
}

// Submit queues items for sending. Every item's account must exist.
func (d *Dispatcher) Submit(items []*Item) { d.batcher.Add(items) }

func (d *Dispatcher) limit(k providers.Key) int { return d.accounts[k.Account].Client.MaxBatch() }

// Flush sends every batch that is still lingering.
func (d *Dispatcher) Flush() { d.batcher.Flush() }

// Close flushes, then sends what is queued and waits for in-flight
// provider calls until ctx ends; after that the calls still running are
// cancelled (each adapter reports them unknown if the request was written,
// retryable if not), batches not yet admitted are reported retryable
// without a call and lookups not yet started are answered not made (none
// waits for a concurrency slot), and Close waits for every item to report
// and every lookup to be answered. No Submit or Lookup may follow Close.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.closing.Store(true)
	d.batcher.Flush()
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("dispatch: grace period over, in-flight provider calls cancelled: %w", ctx.Err())
	}
	d.cancelSend()
	<-done
	for _, a := range d.accounts {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		a.signal()
	}
	d.loops.Wait()
	return err
}

// send queues one batch on its account. It never blocks.
func (d *Dispatcher) send(k providers.Key, items []*Item) {
	a := d.accounts[k.Account]
	d.inflight.Add(1)
	urgent := false
	for _, it := range items {
		urgent = urgent || it.Urgent
	}
	a.mu.Lock()
	if urgent {
		a.urgent = append(a.urgent, batch{k, items})
	} else {
		a.normal = append(a.normal, batch{k, items})
	}
	a.mu.Unlock()
	a.signal()
}

func (a *account) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// next takes the account's next batch, urgent first, waiting for one; ok is
// false once the account is closed and empty.
func (a *account) next() (b batch, ok bool) {
	for {
		a.mu.Lock()
		switch {
		case len(a.urgent) > 0:
			b, a.urgent[0] = a.urgent[0], batch{}
			a.urgent = a.urgent[1:]
		case len(a.normal) > 0:
			b, a.normal[0] = a.normal[0], batch{}
			a.normal = a.normal[1:]
		case a.closed:
			a.mu.Unlock()
			return batch{}, false
		default:
			a.mu.Unlock()
			<-a.wake
			continue
		}
		a.mu.Unlock()
		return b, true
	}
}

// admit is an account's admission loop: it takes the next batch (so an
// urgent batch queued meanwhile goes first), waits for a concurrency slot
// and for the rate limiter, then starts the call. At most one batch per
// account waits for admission, so an urgent batch waits behind at most
// one normal one.
func (d *Dispatcher) admit(a *account) {
	defer d.loops.Done()
	for {
		b, ok := a.next()
		if !ok {
			return
		}
		if b.items = d.fence(b.items); len(b.items) == 0 {
			d.inflight.Done() // nothing left to send: no slot, no tokens
			continue
		}
		select {
		case a.slots <- struct{}{}:
		case <-d.sendCtx.Done():
			// Calls are over: report the batch unsent rather than wait for
			// a slot that a call ignoring its cancellation may never free.
			go func() {
				defer d.inflight.Done()
				d.call(a, b.key, b.items, d.sendCtx.Err())
			}()
			continue
		}
		// The limiter admits the request right before it goes out, so that
		// no round trip of ours bunches requests up past the limit.
		err := a.Limiter.Wait(d.sendCtx, len(b.items))
		go func() {
			defer func() { <-a.slots; d.inflight.Done() }()
			d.call(a, b.key, b.items, err)
		}()
	}
}

// fence applies Config.Fence.
func (d *Dispatcher) fence(items []*Item) []*Item {
	if d.cfg.Fence == nil {
		return items
	}
	return d.cfg.Fence(items)
}

func newBatch(k providers.Key, items []*Item) *providers.Batch {
	b := &providers.Batch{Key: k, Messages: make([]providers.Message, len(items))}
	for i, it := range items {
		b.Messages[i] = it.Message
	}
	b.ID = BatchID(b.Messages)
	return b
}

// call sends one admitted batch; admitErr is the limiter's refusal (the
// grace period ended while the batch waited), in which case nothing is
// sent.
func (d *Dispatcher) call(a *account, k providers.Key, items []*Item, admitErr error) {
	if items = d.fence(items); len(items) == 0 {
		return
	}
	b := newBatch(k, items)

	ctx, span := d.cfg.Tracer.Start(d.sendCtx, "talkrelay.send",
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(jobLinks(items)...),
		trace.WithAttributes(
			attribute.String("talkrelay.account", a.Name),
			attribute.String("talkrelay.provider", a.Provider),
			attribute.String("talkrelay.batch_id", b.ID),
			attribute.Int("messaging.batch.message_count", len(items)),
		))
	defer span.End()

	var outcomes []providers.Outcome
	err := admitErr
	var sentAt time.Time // zero until the provider is called
	if err == nil && d.cfg.BeforeSend != nil {
		if err = d.cfg.BeforeSend(ctx, b, items); err != nil {
			err = fmt.Errorf("send record not stored: %w", err)
		}
	}
	if err == nil {
		// The last check before the request is written, after BeforeSend
		// waited on its store. Items dropped here leave a send record: their
		// job's next holder looks them up instead of sending them.
		if kept := d.fence(items); len(kept) < len(items) {
			if items = kept; len(items) == 0 {
				return
			}
			b = newBatch(k, items)
		}
	}
	if err == nil {
		callCtx, cancel := context.WithTimeout(ctx, a.RequestTimeout)
		sentAt = d.cfg.Now()
		start := time.Now() // the real clock: the duration is measured
		outcomes, err = a.Client.Send(callCtx, b)
		cancel()
		if d.cfg.OnRequest != nil {
			outcome := "ok"
			if err != nil {
				outcome = providers.OutcomeOf(err).Class.String()
			}
			span.SetAttributes(attribute.String("talkrelay.outcome", outcome))
			d.cfg.OnRequest(a.Name, a.Provider, len(items), time.Since(start), outcome)
		}
		if err == nil && len(outcomes) != len(items) {
			err = &providers.Error{Provider: a.Provider, Class: providers.Unknown,
				Message: fmt.Sprintf("provider answered %d outcomes for %d messages", len(outcomes), len(items))}
		}
	} else {
		// Never called the provider: a plain retryable failure.
		err = &providers.Error{Provider: a.Provider, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			Message: "not sent: " + err.Error()}
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		d.cfg.Log.Warn().Err(err).Str("account", a.Name).Str("batch_id", b.ID).Int("recipients", len(items)).Msg("provider request failed")
		o := providers.OutcomeOf(err)
		outcomes = make([]providers.Outcome, len(items))
		for i := range outcomes {
			outcomes[i] = o
		}
	}
	if !sentAt.IsZero() {
		d.feedback(a, outcomes)
	}
	for i, it := range items {
		d.onOutcome(it, &outcomes[i], sentAt)
	}
}

// jobLinks links a request's span to the sampled spans of the jobs it
// carries (the others are not exported), once per job.
func jobLinks(items []*Item) []trace.Link {
	var links []trace.Link
	var seen map[trace.SpanID]bool
	for _, it := range items {
		if !it.Span.IsSampled() || seen[it.Span.SpanID()] {
			continue
		}
		if seen == nil {
			seen = map[trace.SpanID]bool{}
		}
		seen[it.Span.SpanID()] = true
		links = append(links, trace.Link{SpanContext: it.Span})
	}
	return links
}

// BatchID derives a batch's identity from its messages' job ids, indexes
// and attempts: the same messages at the same attempt give the same id.
func BatchID(msgs []providers.Message) string {
	h := sha256.New()
	var n [24]byte
	for _, m := range msgs {
		binary.BigEndian.PutUint64(n[:8], uint64(len(m.Job.ID)))
		binary.BigEndian.PutUint64(n[8:16], uint64(m.Index))
		binary.BigEndian.PutUint64(n[16:], uint64(m.Attempt))
		h.Write(n[:])
		h.Write([]byte(m.Job.ID))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
