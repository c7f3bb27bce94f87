package intake

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// The messages a lane pulls settle as jetstream.Msg does: one ack, nak or
// term each (later ones are refused), progress acks any number of times,
// a delayed nak redelivers after its delay, a term carries its reason, and
// Metadata reads the reply subject.
func TestPulledMessagesSettle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, streams.DefaultConfig())
	terms := make(chan string, 1)
	sub, err := e.nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>", func(m *nats.Msg) {
		var adv struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(m.Data, &adv)
		terms <- adv.Reason
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	subj := streams.JobSubject("a", kind)
	e.publishJobs(subj, 3, 100)
	rec := newRecorder()
	in := e.start(e.config(), rec.handle, "a")
	waitFor(t, 5*time.Second, "3 held", func() bool { return in.Held() == 3 })
	acked, termed, naked := rec.nth(0), rec.nth(1), rec.nth(2)

	md, err := acked.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if md.Sequence.Stream != acked.Seq || md.NumDelivered != acked.Delivered || md.Stream != streams.JobsStream ||
		md.Consumer != laneOfAccount("a", false) || !md.Timestamp.Equal(acked.Stored) {
		t.Fatalf("metadata %+v, message seq %d delivered %d stored %s", md, acked.Seq, acked.Delivered, acked.Stored)
	}
	if err := acked.Ack(); err != nil {
		t.Fatal(err)
	}
	if err := acked.Ack(); !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		t.Fatalf("second ack: %v, want ErrMsgAlreadyAckd", err)
	}
	acked.Done()

	for range 2 {
		if err := termed.InProgress(); err != nil {
			t.Fatal(err)
		}
	}
	if err := termed.TermWithReason("bad job"); err != nil {
		t.Fatal(err)
	}
	if err := termed.Nak(); !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		t.Fatalf("nak after term: %v, want ErrMsgAlreadyAckd", err)
	}
	termed.Done()
	select {
	case r := <-terms:
		if r != "bad job" {
			t.Fatalf("terminated with reason %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no termination advisory")
	}

	const delay = 500 * time.Millisecond
	nakedAt := time.Now()
	if err := naked.NakWithDelay(delay); err != nil {
		t.Fatal(err)
	}
	naked.Done()
	waitFor(t, 5*time.Second, "the delayed nak's redelivery", func() bool { return rec.count() == 4 })
	again := rec.nth(3)
	if again.Seq != naked.Seq || again.Delivered != 2 {
		t.Fatalf("redelivered seq %d (delivery %d), want seq %d (delivery 2)", again.Seq, again.Delivered, naked.Seq)
	}
	if waited := time.Since(nakedAt); waited < delay {
		t.Fatalf("redelivered after %s, before the nak's delay of %s", waited, delay)
	}
	if p := e.consumer(laneOfAccount("a", false)).NumAckPending; p != 1 {
		t.Fatalf("%d pending acks, want 1 (the redelivered job)", p)
	}
}

func TestPullError(t *testing.T) {
	for _, c := range []struct {
		status, desc string
		want         error
		refused      bool
	}{
		{"", "", nil, false},
		{"404", "No Messages", nil, false},
		{"408", "Request Timeout", nil, false},
		{"409", "Message Size Exceeds MaxBytes", nil, true},
		{"409", "Batch Completed", nil, false},
		{"409", "Leadership Change", nil, false},
		{"409", "Consumer Deleted", jetstream.ErrConsumerDeleted, false},
		{"503", "", nats.ErrNoResponders, false},
	} {
		r := &pullRequest{done: make(chan struct{})}
		r.end(c.status, c.desc)
		if !errors.Is(r.err, c.want) || (c.want == nil) != (r.err == nil) || r.refused != c.refused {
			t.Errorf("%s %s: error %v refused %v, want %v and %v", c.status, c.desc, r.err, r.refused, c.want, c.refused)
		}
	}
	for _, desc := range []string{"Exceeded MaxWaiting", "Server Shutdown"} {
		if err := pullError("409", desc); err == nil {
			t.Errorf("409 %s: no error", desc)
		}
	}
}
