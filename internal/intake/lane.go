package intake

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// A Lane is one account's normal or urgent queue: a durable pull consumer
// and the messages of it this process holds.
type Lane struct {
	in *Intake
	// Account is the account token of the lane's subjects.
	Account string
	// Urgent is set on the urgent lane.
	Urgent     bool
	configured bool // the account is in this worker's config
	retired    bool // closing: a discovered lane no longer needed; guarded by in.mu
	name       string
	ctx        context.Context // ends the lane's pulling
	cancel     context.CancelFunc

	mu        sync.Mutex
	held      map[*Msg]struct{}
	heldBytes int
	freed     chan struct{} // cap 1: credits came back

	next string // the consumer's pull request subject
	// Pull requests' subscriptions (pull.go) send what they take to queue
	// until the puller, done, closes it (closed, under qmu).
	qmu    sync.Mutex
	closed bool
	queue  chan *Msg // taken, not started; cap PullBatch
}

// Msg is a job message this process holds, from its arrival until Done.
type Msg struct {
	jetstream.Msg // pulled, below
	// Seq is the message's stream sequence and Delivered how many times
	// NATS delivered it (0 if its metadata could not be read).
	Seq, Delivered uint64
	lane           *Lane
	size           int
	// lease is when, in mono time, the message may stop being this
	// process's (see lease.go).
	lease atomic.Int64
	// asked is the mono time of its pull or last keep-alive request;
	// guarded by lane.mu.
	asked int64
	// keepAlive is the id of its unanswered keep-alive; guarded by
	// keepAlives.mu.
	keepAlive uint64
	done      atomic.Bool
	// Stored is when the server stored it (zero if unknown).
	Stored time.Time
	pulled pulledMsg
}

// msgOverhead is what a message's subject, reply and headers add to its
// data, roughly, in the lane's byte count.
const msgOverhead = 256

func (in *Intake) newLane(acct string, urgent, configured bool) *Lane {
	ctx, cancel := context.WithCancel(in.ctx)
	return &Lane{in: in, Account: acct, Urgent: urgent, configured: configured,
		name: laneName(in.cfg.Consumer, acct, urgent), ctx: ctx, cancel: cancel,
		held: map[*Msg]struct{}{}, freed: make(chan struct{}, 1), queue: make(chan *Msg, in.cfg.PullBatch)}
}

// Name is the lane's durable consumer name.
func (l *Lane) Name() string { return l.name }

// Filters are the subjects of the lane's consumer.
func (l *Lane) Filters() []string {
	if l.Urgent {
		return []string{streams.JobsPrefix + "." + l.Account + ".*." + streams.UrgentSuffix,
			streams.RetryPrefix + "." + l.Account + "." + streams.UrgentSuffix}
	}
	return []string{streams.JobsPrefix + "." + l.Account + ".*", streams.RetryPrefix + "." + l.Account}
}

// ensure creates or updates the lane's consumer.
func (l *Lane) ensure(ctx context.Context) error {
	desc := "talkrelay workers: jobs of account " + l.Account
	if l.Urgent {
		desc = "talkrelay workers: urgent jobs of account " + l.Account
	}
	cc := jetstream.ConsumerConfig{
		Durable:        l.name,
		Description:    desc,
		FilterSubjects: l.Filters(),
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        l.in.cfg.AckWait,
		MaxAckPending:  l.in.cfg.MaxAckPending,
		MaxDeliver:     l.in.cfg.MaxDeliver,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if !l.configured {
		// Lanes of accounts no worker serves go away once unused.
		cc.InactiveThreshold = 10 * time.Minute
	}
	if _, err := l.in.js.CreateOrUpdateConsumer(ctx, streams.JobsStream, cc); err != nil {
		return fmt.Errorf("intake: create or update consumer %s: %w", l.name, err)
	}
	return nil
}

// pull takes messages as the lane's credits allow until its context ends.
func (l *Lane) pull() {
	// Options, not fields set afterwards: the constructor already took
	// the default initial interval (500ms) as the first wait.
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0))
	warned := false
	alone := false // take the next message alone, whatever its size
	l.next = streams.APIPrefix(l.in.js) + ".CONSUMER.MSG.NEXT." + streams.JobsStream + "." + l.name
	for l.ctx.Err() == nil {
		if paused := l.in.cfg.Paused; paused != nil && paused(l.Account) {
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(l.in.cfg.PullWait):
			}
			continue
		}
		n, size, ok := l.credits(alone)
		if !ok {
			return
		}
		refused, err := l.fetch(n, size)
		if err == nil {
			bo.Reset()
			warned = false
			alone = false
			if refused {
				// The next message is larger than the bytes left. A lane
				// holding nothing takes it alone; one holding messages
				// waits until some are settled (or a while: another
				// replica may take that message).
				if l.heldCount() == 0 {
					alone = true
				} else {
					l.waitFreed(l.in.cfg.PullWait)
				}
			}
			continue
		}
		if l.ctx.Err() != nil {
			return
		}
		ev := l.in.cfg.Log.Debug()
		if !warned {
			ev, warned = l.in.cfg.Log.Warn(), true
		}
		ev.Err(err).Str("consumer", l.name).Msg("intake: pull failed; retrying")
		if consumerGone(err) {
			ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
			stop := context.AfterFunc(l.in.connected(), cancel)
			_ = l.ensure(ctx)
			stop()
			cancel()
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(bo.NextBackOff()):
		}
	}
}

// consumerGone tells whether a pull failed because the lane's consumer no
// longer exists. A pull request waiting when the consumer is deleted is
// answered "consumer deleted"; one sent after (the lane was full, or its
// consumer was created again while the deletion was still under way) finds
// nobody to answer it: "no responders".
func consumerGone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, nats.ErrNoResponders)
}

// fetch runs one pull request for at most n messages and size bytes (any
// size if 0), and waits until it is over. It reports whether NATS refused
// the next message because it is larger than size: NATS then ends the
// request at once ("409 Message Size Exceeds MaxBytes"), having sent
// nothing.
//
// A pull is not ended while NATS may be sending on it: what reaches a pull
// once its subscription is gone is dropped, and NATS, which counts such
// messages as delivered, would give them to no one until their ack wait is
// over. So when intake stops, the pull goes on until NATS has sent nothing
// for stopQuiet, and the pull of a retired lane (nothing waits for it) runs
// until it expires. When the connection is lost, the pull ends at once:
// nothing more comes on it.
func (l *Lane) fetch(n, size int) (refused bool, err error) {
	if l.ctx.Err() != nil {
		return false, nil
	}
	connected := l.in.connected()
	nc := l.in.js.Conn()
	req := &pullRequest{id: mono(), left: n, bytes: size, limited: size > 0, done: make(chan struct{})}
	req.last.Store(req.id)
	inbox := nc.NewInbox()
	sub, err := nc.Subscribe(inbox, func(m *nats.Msg) { l.delivered(req, m) })
	if err != nil {
		return false, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	// The request asks for no more than the lane's credits: the
	// subscription buffers what comes while its callback is busy, never
	// more.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return false, err
	}
	body := fmt.Appendf(nil, `{"batch":%d,"expires":%d`, n, l.in.cfg.PullWait.Nanoseconds())
	if size > 0 {
		body = fmt.Appendf(body, `,"max_bytes":%d`, size)
	}
	body = append(body, '}')
	if err := nc.PublishRequest(l.next, inbox, body); err != nil {
		return false, err
	}
	// NATS ends an expired request with a 408; a second more, and it
	// never will.
	expired := time.NewTimer(l.in.cfg.PullWait + time.Second)
	defer expired.Stop()
	stopping := l.in.ctx.Done()
	var quiet <-chan time.Time
	for {
		select {
		case <-req.done:
			return req.refused, req.err
		case <-expired.C:
			return false, nil
		case <-connected.Done():
			return false, nil
		case <-stopping:
			stopping = nil
			quiet = time.After(0)
		case <-quiet:
			idle := time.Duration(mono() - req.last.Load())
			if idle >= stopQuiet {
				return false, nil
			}
			quiet = time.After(stopQuiet - idle)
		}
	}
}

// stopQuiet is how long a stopping lane's pull must have brought nothing
// before it is ended.
const stopQuiet = 50 * time.Millisecond

// credits waits until the lane may take more and returns how much: at
// most PullBatch messages and LaneBytes bytes held. alone asks for one
// message of any size (size 0), which only a lane holding nothing takes.
func (l *Lane) credits(alone bool) (n, size int, ok bool) {
	cfg := &l.in.cfg
	for {
		l.mu.Lock()
		held, bytes := len(l.held), l.heldBytes
		l.mu.Unlock()
		if held == 0 && alone {
			return 1, 0, true
		}
		n, size = cfg.PullBatch-held, cfg.LaneBytes-bytes
		if held == 0 || (n >= refill(cfg.PullBatch) && size >= refill(cfg.LaneBytes)) {
			return n, size, true
		}
		if !l.waitFreed(0) {
			return 0, 0, false
		}
	}
}

// refill is how much of a lane's capacity (messages or bytes) must be free
// before a lane holding messages pulls again. A busy lane frees its
// messages one at a time; pulling as each is freed would cost a pull
// request (and the client's subscription for it) for every message.
func refill(capacity int) int { return max(1, capacity/4) }

// waitFreed waits until messages of the lane are settled, at most d if d
// is positive; it returns false once the lane stops.
func (l *Lane) waitFreed(d time.Duration) bool {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-l.freed:
	case <-timeout:
	case <-l.ctx.Done():
		return false
	}
	return true
}

// receive holds nm, which a pull request sent at pulled (mono time)
// brought: its lease starts then. What a pull's callback still delivers
// once the puller is done goes straight back to NATS.
func (l *Lane) receive(nm *nats.Msg, pulled int64) {
	m := &Msg{lane: l, size: len(nm.Data) + msgOverhead, asked: pulled}
	m.pulled.msg, m.pulled.nc = nm, l.in.js.Conn()
	m.Msg = &m.pulled
	m.lease.Store(pulled + l.in.ka.span)
	if seq, delivered, stored, ok := ackMeta(nm.Reply); ok {
		m.Seq, m.Delivered, m.Stored = seq, delivered, stored
	}
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if l.closed {
		_ = m.pulled.Nak()
		return
	}
	l.mu.Lock()
	l.held[m] = struct{}{}
	l.heldBytes += m.size
	l.mu.Unlock()
	l.queue <- m // never blocks: the queue holds at most what is held
}

// closeQueue ends the lane's taking; the puller calls it once done.
func (l *Lane) closeQueue() {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	l.closed = true
	close(l.queue)
}

// start runs the handler on groups of queued messages until the queue is
// closed; once the lane stops, what is left goes back to NATS.
func (l *Lane) start(h Handler) {
	starters := l.in.cfg.Starters
	// What the lane takes once it is stopping goes back to NATS only when
	// its last pull is over (the puller closes the queue then): handed
	// back earlier, a message would come straight back on that pull, and
	// again, each time counting as a delivery until MaxDeliver.
	var back []*Msg
	defer func() {
		for _, m := range back {
			m.handBack()
		}
	}()
	for m := range l.queue {
		// Share a backlog among the starters, in groups the handler can
		// check at once.
		limit := min(startGroup, max(1, (len(l.queue)+1)/starters))
		group := []*Msg{m}
	fill:
		for len(group) < limit {
			select {
			case m, ok := <-l.queue:
				if !ok {
					break fill
				}
				group = append(group, m)
			default:
				break fill
			}
		}
		if l.ctx.Err() != nil {
			back = append(back, group...)
			continue
		}
		h(l, group)
	}
}

// retire stops a lane that is no longer needed: its puller returns once
// its current pull is over and closes the queue, and its starters hand
// back what it took meanwhile.
func (l *Lane) retire() { l.cancel() }

func (l *Lane) heldCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// due returns the held messages whose keep-alive was last asked for every
// or more ago (mono times), marking them asked now.
func (l *Lane) due(now, every int64) []*Msg {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Msg
	for m := range l.held {
		if now-m.asked >= every {
			m.asked = now
			out = append(out, m)
		}
	}
	return out
}

// Lane is the lane m came from.
func (m *Msg) Lane() *Lane { return m.lane }

// Done releases m's credits and stops keeping it alive. Call it once m is
// acknowledged, handed back or terminated; later calls do nothing.
func (m *Msg) Done() {
	if !m.done.CompareAndSwap(false, true) {
		return
	}
	l := m.lane
	l.in.ka.forget(m)
	l.mu.Lock()
	delete(l.held, m)
	l.heldBytes -= m.size
	l.mu.Unlock()
	select {
	case l.freed <- struct{}{}:
	default:
	}
}

// handBack returns an unstarted message to NATS for another replica.
func (m *Msg) handBack() {
	_ = m.Nak()
	m.Done()
}
