package intake

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Each pull request (JetStream's CONSUMER.MSG.NEXT) of a lane has a
// subscription of its own, to the inbox NATS sends its messages to, whose
// callback holds them as they come. The client's one-shot Fetch does the
// same with, in addition, a goroutine and a channel between the
// subscription and the caller, and a timer per message; this is the
// product's hot path.
//
// A request ends when NATS sent it as many messages as it asked for, or
// its bytes, or with a status: 404/408 (nothing more came before it
// expired), 409 (the next message is larger than the bytes left, the
// consumer was deleted, its leader changed, …), 503 (no consumer answered).

// pullRequest is one pull request of a lane, in flight.
type pullRequest struct {
	id      int64 // mono time it was sent: its messages' leases start then
	left    int   // messages still to come
	bytes   int   // bytes still to come, if limited
	limited bool
	got     int          // messages it brought; only its subscription's callback touches left, bytes and got
	last    atomic.Int64 // mono time it was sent or last brought a message
	done    chan struct{}
	once    sync.Once
	// refused and err are set before done is closed: refused when NATS
	// ended it, having sent nothing, because the next message is larger
	// than its bytes.
	refused bool
	err     error
}

// end ends r with the error of its last answer (status, desc).
func (r *pullRequest) end(status, desc string) {
	r.once.Do(func() {
		r.err = pullError(status, desc)
		r.refused = status == "409" && strings.EqualFold(desc, statusMaxBytes) && r.got == 0
		close(r.done)
	})
}

// statusMaxBytes is the 409's description when the next message is larger
// than the bytes a request has left.
const statusMaxBytes = "Message Size Exceeds MaxBytes"

// delivered takes a message or status NATS sent for req.
func (l *Lane) delivered(req *pullRequest, m *nats.Msg) {
	if status := statusOf(m); status != "" {
		if status != "100" { // 100: idle heartbeat or flow control
			req.end(status, m.Header.Get("Description"))
		}
		return
	}
	l.receive(m, req.id)
	req.last.Store(mono())
	req.got++
	req.left--
	if req.limited {
		req.bytes -= m.Size() // as NATS counts them: subject, reply, headers and data
	}
	if req.left <= 0 || (req.limited && req.bytes <= 0) {
		req.end("", "")
	}
}

// statusOf returns the status code of a control message, or "" for a
// message of the stream.
func statusOf(m *nats.Msg) string {
	if len(m.Data) > 0 || len(m.Header) == 0 {
		return ""
	}
	return m.Header.Get("Status")
}

// pullError is the error of a pull request that ended with status, or nil
// if it ended as pulls do.
func pullError(status, desc string) error {
	switch status {
	case "", "404", "408":
		return nil
	case "409":
		d := strings.ToLower(desc)
		switch {
		case strings.Contains(d, "consumer deleted"):
			return jetstream.ErrConsumerDeleted
		case strings.Contains(d, strings.ToLower(statusMaxBytes)), strings.Contains(d, "batch completed"),
			strings.Contains(d, "leadership change"):
			return nil
		}
	case "503":
		return nats.ErrNoResponders
	}
	return fmt.Errorf("intake: pull request refused: %s %s", status, desc)
}

// pulledMsg is a job message from a lane's pull subscription: the
// jetstream.Msg the client's Fetch would have made of it. Its
// acknowledgements are published to its reply subject as the client
// does.
type pulledMsg struct {
	msg  *nats.Msg
	nc   *nats.Conn
	ackd atomic.Bool
}

var _ jetstream.Msg = (*pulledMsg)(nil)

func (m *pulledMsg) Data() []byte         { return m.msg.Data }
func (m *pulledMsg) Headers() nats.Header { return m.msg.Header }
func (m *pulledMsg) Subject() string      { return m.msg.Subject }
func (m *pulledMsg) Reply() string        { return m.msg.Reply }

// Metadata reads the message's reply subject.
func (m *pulledMsg) Metadata() (*jetstream.MsgMetadata, error) {
	md, err := m.msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", jetstream.ErrNotJSMessage, err)
	}
	out := &jetstream.MsgMetadata{NumDelivered: md.NumDelivered, NumPending: md.NumPending, Timestamp: md.Timestamp,
		Stream: md.Stream, Consumer: md.Consumer, Domain: md.Domain}
	out.Sequence.Stream, out.Sequence.Consumer = md.Sequence.Stream, md.Sequence.Consumer
	return out, nil
}

func (m *pulledMsg) Ack() error                          { return m.ack(context.Background(), "+ACK", false) }
func (m *pulledMsg) DoubleAck(ctx context.Context) error { return m.ack(ctx, "+ACK", true) }
func (m *pulledMsg) Nak() error                          { return m.ack(context.Background(), "-NAK", false) }
func (m *pulledMsg) InProgress() error                   { return m.ack(context.Background(), "+WPI", false) }
func (m *pulledMsg) Term() error                         { return m.ack(context.Background(), "+TERM", false) }

func (m *pulledMsg) NakWithDelay(delay time.Duration) error {
	if delay <= 0 {
		return m.Nak()
	}
	return m.ack(context.Background(), fmt.Sprintf(`-NAK {"delay": %d}`, delay.Nanoseconds()), false)
}

func (m *pulledMsg) TermWithReason(reason string) error {
	if reason == "" {
		return m.Term()
	}
	return m.ack(context.Background(), "+TERM "+reason, false)
}

// ack sends body to the message's reply subject (and waits for NATS's
// answer if sync), as jetstream.Msg does: at most one ack, nak or term;
// progress acks any number of times.
func (m *pulledMsg) ack(ctx context.Context, body string, sync bool) error {
	if m.msg.Reply == "" {
		return jetstream.ErrMsgNoReply
	}
	if m.ackd.Load() {
		return jetstream.ErrMsgAlreadyAckd
	}
	var err error
	if sync {
		_, err = m.nc.RequestWithContext(ctx, m.msg.Reply, []byte(body))
	} else {
		err = m.nc.Publish(m.msg.Reply, []byte(body))
	}
	if err != nil {
		return err
	}
	if body != "+WPI" {
		m.ackd.Store(true)
	}
	return nil
}
