package intake

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// A held message is this process's only while NATS would not hand it to
// another replica: until its ack wait runs out without a progress ack. The
// process cannot see NATS's timer, so it keeps a lease of its own, on the
// monotonic clock, that ends no later than that timer:
//
//   - The lease starts when the pull request that brought the message was
//     sent (NATS delivered it after that) and runs for leaseSpan.
//   - A keep-alive is a progress ack sent as a request: NATS answers it
//     once it applied it. A keep-alive sent at t and answered while the
//     lease still runs moves the lease to t+leaseSpan (NATS applied it
//     after t, and had not redelivered the message before: the lease had
//     not ended).
//   - An answer that comes after the lease ended proves nothing: NATS
//     applies a progress ack by stream sequence, even when it meanwhile
//     redelivered the message to another replica. Once the lease ended it
//     never runs again: the message is lost to this process for good (Lost).
//
// A process paused longer than its lease (a GC or VM pause, SIGSTOP) or cut
// off from NATS thus finds on its return that what it held is lost, whatever
// NATS answers to the keep-alives it sends then.

// leaseMargin is the part of the ack wait a lease leaves unused: the lease
// ends this much before NATS's timer at the earliest could.
func leaseMargin(ackWait time.Duration) time.Duration { return ackWait / 5 }

// leaseSpan is how long a lease runs from a confirmed keep-alive's request.
func leaseSpan(ackWait time.Duration) time.Duration { return ackWait - leaseMargin(ackWait) }

// keepAliveEvery is how often a held message is kept alive: a keep-alive
// goes out at most every*3/2 after the last one (the loop ticks every/2),
// leaving its answer more than a third of the ack wait before the lease
// ends.
func keepAliveEvery(ackWait time.Duration) time.Duration { return ackWait / 4 }

// epoch is the origin of mono.
var epoch = time.Now()

// mono is the monotonic clock, in nanoseconds.
func mono() int64 { return int64(time.Since(epoch)) }

// Lost tells whether m's lease ended: NATS may have handed m to another
// replica, so this process must not send it, store anything for it or
// settle it (an ack, nak or term by this process would act on the other
// replica's delivery). Once true it stays true.
func (m *Msg) Lost() bool { return mono() >= m.lease.Load() }

// extend moves m's lease to asked+span after a keep-alive requested at
// asked was confirmed at now, if the lease still ran at now.
func (m *Msg) extend(asked, now, span int64) {
	for {
		cur := m.lease.Load()
		if now >= cur || asked+span <= cur {
			return
		}
		if m.lease.CompareAndSwap(cur, asked+span) {
			return
		}
	}
}

// keepAlives sends keep-alives and applies their answers.
type keepAlives struct {
	nc    *nats.Conn
	inbox string // answers come to <inbox>.<id>
	span  int64
	sub   *nats.Subscription

	mu     sync.Mutex
	nextID uint64
	asked  map[uint64]keepAlive // unanswered, by id
}

type keepAlive struct {
	m  *Msg
	at int64 // mono time of the request
}

func newKeepAlives(nc *nats.Conn, ackWait time.Duration) (*keepAlives, error) {
	k := &keepAlives{nc: nc, inbox: nc.NewInbox(), span: int64(leaseSpan(ackWait)), asked: map[uint64]keepAlive{}}
	sub, err := nc.Subscribe(k.inbox+".*", k.answered)
	if err != nil {
		return nil, err
	}
	k.sub = sub
	return k, nil
}

func (k *keepAlives) close() { _ = k.sub.Unsubscribe() }

// send asks NATS to keep m alive; asked is the request's mono time. A lost
// message is not kept alive: it may be another replica's now.
func (k *keepAlives) send(m *Msg, asked int64) {
	if m.Lost() || m.Reply() == "" {
		return
	}
	k.mu.Lock()
	if m.keepAlive != 0 {
		delete(k.asked, m.keepAlive) // unanswered: its answer would come late, if at all
	}
	k.nextID++
	id := k.nextID
	m.keepAlive = id
	k.asked[id] = keepAlive{m, asked}
	k.mu.Unlock()
	if err := k.nc.PublishRequest(m.Reply(), k.inbox+"."+strconv.FormatUint(id, 10), []byte("+WPI")); err != nil {
		k.forget(m)
	}
}

// answered applies NATS's answer to a keep-alive. An answer with a status
// (503 no responders: the consumer is gone) confirms nothing.
func (k *keepAlives) answered(msg *nats.Msg) {
	now := mono()
	id, err := strconv.ParseUint(msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:], 10, 64)
	if err != nil {
		return
	}
	k.mu.Lock()
	ka, ok := k.asked[id]
	delete(k.asked, id)
	if ok && ka.m.keepAlive == id {
		ka.m.keepAlive = 0
	}
	k.mu.Unlock()
	if ok && msg.Header.Get("Status") == "" {
		ka.m.extend(ka.at, now, k.span)
	}
}

// forget drops m's unanswered keep-alive.
func (k *keepAlives) forget(m *Msg) {
	k.mu.Lock()
	if m.keepAlive != 0 {
		delete(k.asked, m.keepAlive)
		m.keepAlive = 0
	}
	k.mu.Unlock()
}

// ErrLost is returned for an ack, nak or term of a message whose lease
// ended (Lost): NATS applies those by stream sequence, so they would act on
// the delivery of the replica that has the message now.
var ErrLost = errors.New("intake: message lost (held past its ack wait without a confirmed keep-alive); not settled by this process")

// Ack acknowledges m unless it is lost.
func (m *Msg) Ack() error {
	if m.Lost() {
		return ErrLost
	}
	return m.Msg.Ack()
}

// Nak hands m back unless it is lost.
func (m *Msg) Nak() error {
	if m.Lost() {
		return ErrLost
	}
	return m.Msg.Nak()
}

// NakWithDelay hands m back for redelivery after delay unless it is lost.
func (m *Msg) NakWithDelay(delay time.Duration) error {
	if m.Lost() {
		return ErrLost
	}
	return m.Msg.NakWithDelay(delay)
}

// TermWithReason terminates m unless it is lost.
func (m *Msg) TermWithReason(reason string) error {
	if m.Lost() {
		return ErrLost
	}
	return m.Msg.TermWithReason(reason)
}
