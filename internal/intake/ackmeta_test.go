package intake

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/natstest"
)

// ackMeta reads what jetstream.Msg.Metadata reads from messages a real
// server delivered, and takes no allocation.
func TestAckMetaMatchesMetadata(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ACKMETA", Subjects: []string{"ackmeta.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "ackmeta."+strconv.Itoa(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.CreateConsumer(ctx, "ACKMETA", jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ { // the second round: redeliveries
		batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			seq, delivered, stored, ok := ackMeta(m.Reply())
			if !ok || seq != md.Sequence.Stream || delivered != md.NumDelivered || !stored.Equal(md.Timestamp) || delivered != uint64(round) {
				t.Errorf("ackMeta(%q) = %d %d %v %v; Metadata: %d %d %v", m.Reply(), seq, delivered, stored, ok,
					md.Sequence.Stream, md.NumDelivered, md.Timestamp)
			}
			if a := testing.AllocsPerRun(10, func() { ackMeta(m.Reply()) }); a != 0 {
				t.Errorf("ackMeta: %v allocations", a)
			}
			_ = m.Nak()
		}
		if n != 3 {
			t.Fatalf("round %d: %d messages, want 3", round, n)
		}
	}
}

func TestAckMetaForms(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		reply          string
		seq, delivered uint64
		ok             bool
	}{
		{"$JS.ACK.JOBS.w-a.2.15.7.1700000000000000000.0", 15, 2, true},
		{"$JS.ACK._.ACCHASH.JOBS.w-a.3.16.8.1700000000000000000.4.tok", 16, 3, true},
		{"$JS.ACK.hub.ACCHASH.JOBS.w-a.1.17.9.1700000000000000000.0", 17, 1, true},
		{"$JS.ACK.JOBS.w-a.2.15.7.1700000000000000000", 0, 0, false}, // 6 tokens
		{"$JS.ACK.x.JOBS.w-a.2.15.7.1700000000000000000.0", 0, 0, false},
		{"$JS.ACK.JOBS.w-a.two.15.7.1700000000000000000.0", 0, 0, false},
		{"$JS.ACK.JOBS.w-a..15.7.1700000000000000000.0", 0, 0, false},
		{"_INBOX.x.JOBS.w-a.2.15.7.1700000000000000000.0", 0, 0, false},
		{"", 0, 0, false},
	} {
		seq, delivered, stored, ok := ackMeta(tt.reply)
		if seq != tt.seq || delivered != tt.delivered || ok != tt.ok {
			t.Errorf("ackMeta(%q) = %d, %d, %v; want %d, %d, %v", tt.reply, seq, delivered, ok, tt.seq, tt.delivered, tt.ok)
		}
		if ok && stored.UnixNano() != 1700000000000000000 {
			t.Errorf("ackMeta(%q): stored %v", tt.reply, stored)
		}
	}
}

// The reply subject comes from the server, but a message's is read before
// anything else of it: no subject may crash intake.
func FuzzAckMeta(f *testing.F) {
	f.Add("$JS.ACK.JOBS.w-a.2.15.7.1700000000000000000.0")
	f.Add("$JS.ACK._.H.JOBS.w-a.3.16.8.1700000000000000000.4.tok")
	f.Add("$JS.ACK.......")
	f.Fuzz(func(t *testing.T, reply string) {
		seq, delivered, _, ok := ackMeta(reply)
		if !ok && (seq != 0 || delivered != 0) {
			t.Fatalf("ackMeta(%q): values without ok", reply)
		}
	})
}
