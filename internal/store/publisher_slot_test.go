package store

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/natstest"
)

// A slot keeps its reply subject from one publish to the next, but not
// after a publish timed out: its ack may still come, and must not confirm
// the next publish of the slot. Here the test plays JetStream for subject
// "slow" (a plain subscriber that answers when told), and the publisher
// has one slot.
func TestLateAckDoesNotConfirmTheNextPublishOfItsSlot(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	p := NewPublisher(t.Context(), js, zerolog.New(zerolog.NewTestWriter(t)), 1)
	defer p.Close()
	server := srv.Connect(t)
	requests, err := server.SubscribeSync("slow")
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Flush(); err != nil {
		t.Fatal(err)
	}
	next := func() *nats.Msg {
		t.Helper()
		m, err := requests.NextMsg(time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	answer := func(reply, ack string) {
		t.Helper()
		if err := server.Publish(reply, []byte(ack)); err != nil {
			t.Fatal(err)
		}
	}
	const stored = `{"stream":"T","seq":1}`
	const refused = `{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"T","seq":0}`

	reported := make(chan error, 2)
	p.Publish(&nats.Msg{Subject: "slow", Data: []byte("b")}, func(err error) { reported <- err })
	first := next()
	p.ticks.Add(ackTicks) // as if ackTimeout passed: expired at the next tick, then published again synchronously
	answer(next().Reply, stored)
	if err := <-reported; err != nil {
		t.Fatalf("the publish retried after its ack timed out: %v", err)
	}

	p.Publish(&nats.Msg{Subject: "slow", Data: []byte("c")}, func(err error) { reported <- err })
	second := next()
	if second.Reply == first.Reply {
		t.Fatalf("the slot's next publish took the reply subject %s of a publish that timed out", first.Reply)
	}
	answer(first.Reply, refused) // the late ack of the first publish
	answer(second.Reply, stored)
	if err := <-reported; err != nil {
		t.Errorf("the slot's next publish was reported %v, the late ack of the one before", err)
	}

	p.Publish(&nats.Msg{Subject: "slow", Data: []byte("d")}, func(err error) { reported <- err })
	if third := next(); third.Reply != second.Reply {
		t.Errorf("reply subject %s after an acknowledged publish, want the slot's %s again", third.Reply, second.Reply)
	} else {
		answer(third.Reply, stored)
		if err := <-reported; err != nil {
			t.Error(err)
		}
	}
}

// An ack comes from whoever may publish to the publisher's inbox: whatever
// its subject and body, only the exact reply subject of a publish waiting
// for its ack reports that publish.
func FuzzAckSubject(f *testing.F) {
	const inbox = "_INBOX.abc."
	const reply = inbox + "1.2"
	f.Add(reply, []byte(`{"stream":"T","seq":1}`))
	f.Add(inbox+"1.3", []byte(`{"stream":"T","seq":1}`))
	f.Add(inbox+"0.1", []byte(`{"error":{"code":503}}`))
	f.Add(inbox+"-1.1", []byte(nil))
	f.Add(inbox+"99999999999999999999.1", []byte("x"))
	f.Add(inbox, []byte(""))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		if subject == reply {
			t.Skip("the waiting publish's own ack")
		}
		reported := false
		p := &Publisher{inbox: inbox, slots: make([]slot, 3), free: make(chan int, 3)}
		p.slots[0] = slot{reply: inbox + "0.1", stale: true} // not waiting: timed out
		p.slots[1] = slot{reply: reply, waiting: true, pub: pendingPub{done: StoredFunc(func(error) { reported = true })}}
		p.onAck(&nats.Msg{Subject: subject, Data: data})
		if reported || !p.slots[1].waiting {
			t.Errorf("an ack to %q reported the publish waiting for %q", subject, reply)
		}
	})
}
