package dlq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Letter is one dead letter as stored in TALKRELAY_DLQ.
type Letter struct {
	Seq  uint64
	Time time.Time
	// Account is the account token of its subject, talkrelay.dlq.<account>.
	Account string
	// JobID is its Talkrelay-Job-Id; empty when the job's id could not be read.
	JobID string
	// Reason is its Talkrelay-Reason.
	Reason string
	// Subject is its Talkrelay-Subject: where the dead-lettered message was
	// published (a jobs subject, or the account's retry subject when the
	// letter holds the recipients still pending after a retry round).
	Subject string
	// Recipients are the original indexes of its Talkrelay-Recipients; nil
	// when it is about the whole job.
	Recipients []int
	Header     nats.Header
	Data       []byte
	// Size is what the message takes of max_payload: data and headers.
	Size int
}

func newLetter(seq uint64, at time.Time, subject string, h nats.Header, data []byte) (*Letter, error) {
	l := &Letter{
		Seq:     seq,
		Time:    at,
		Account: strings.TrimPrefix(subject, streams.DLQPrefix+"."),
		JobID:   h.Get(streams.HeaderJobID),
		Reason:  h.Get(streams.HeaderReason),
		Subject: h.Get(streams.HeaderSubject),
		Header:  h,
		Data:    data,
		Size:    store.Size(&nats.Msg{Header: h, Data: data}),
	}
	if r := h.Get(streams.HeaderRecipients); r != "" {
		for _, s := range strings.Split(r, ",") {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("dead letter %d: %s %q is not a list of recipient indexes", seq, streams.HeaderRecipients, r)
			}
			l.Recipients = append(l.Recipients, n)
		}
	}
	return l, nil
}

// Filter selects dead letters.
type Filter struct {
	Account string    // "": every account
	Reason  string    // prefix of Talkrelay-Reason; "": any
	Since   time.Time // zero: from the first
	Until   time.Time // zero: to the last
	Limit   int       // 0: no limit
}

func (f Filter) subject() string {
	if f.Account == "" {
		return streams.DLQPrefix + ".>"
	}
	return streams.DLQSubject(f.Account)
}

func (f Filter) match(l *Letter) bool {
	return strings.HasPrefix(l.Reason, f.Reason) && (f.Until.IsZero() || !l.Time.After(f.Until))
}

// dlqStream opens TALKRELAY_DLQ.
func dlqStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, streams.DLQStream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w (has a worker ever run against this NATS server?)", streams.DLQStream, err)
	}
	return s, nil
}

// get reads the dead letter at stream sequence seq.
func get(ctx context.Context, s jetstream.Stream, seq uint64) (*Letter, error) {
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("no dead letter at sequence %d (deleted, expired, or never written)", seq)
	}
	if err != nil {
		return nil, fmt.Errorf("dead letter %d: %w", seq, err)
	}
	return newLetter(m.Sequence, m.Time, m.Subject, m.Header, m.Data)
}

// scan calls fn with every dead letter f selects, oldest first, up to the
// last one stored when the scan began. It reads through an ordered
// consumer, which leaves no state on the server.
func scan(ctx context.Context, s jetstream.Stream, f Filter, fn func(*Letter) error) error {
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", streams.DLQStream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{f.subject()}}
	if !f.Since.IsZero() {
		since := f.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("read %s: %w", streams.DLQStream, err)
	}
	n := 0
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return fmt.Errorf("read %s: %w", streams.DLQStream, err)
		}
		// A return in the middle of a batch first drains it: its fetch
		// ends when the batch does, not when we stop reading.
		drain := func(err error) error {
			for range batch.Messages() {
			}
			return err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return drain(err)
			}
			if meta.Sequence.Stream > last || (!f.Until.IsZero() && meta.Timestamp.After(f.Until)) {
				return drain(nil)
			}
			l, err := newLetter(meta.Sequence.Stream, meta.Timestamp, m.Subject(), m.Headers(), m.Data())
			if err != nil {
				return drain(err)
			}
			if f.match(l) {
				if err := fn(l); err != nil {
					return drain(err)
				}
				if n++; f.Limit > 0 && n >= f.Limit {
					return drain(nil)
				}
			}
			if meta.NumPending == 0 {
				return drain(nil)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("read %s: %w", streams.DLQStream, err)
		}
		if got == 0 {
			return ctx.Err()
		}
	}
}
