package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// A result message published with its headers encoded by itself
// (publishEncoded, nats.go's own publish) reaches a subscriber as the same
// message as through PublishMsg: same subject, headers and body. A value
// PublishMsg would change (a line break, white space around it) is left to
// PublishMsg.
func TestEncodedResultHeaderIsWhatPublishMsgSends(t *testing.T) {
	t.Parallel()
	nc := natstest.Run(t).Connect(t)
	sub, err := nc.SubscribeSync("talkrelay.results.>")
	if err != nil {
		t.Fatal(err)
	}
	withState := spanWithState(t, "vendor=abc,other=x y")
	ev := &result.Event{Version: 1, JobID: "order.1", RecipientIndex: 3, Account: "shop", Status: result.Accepted,
		Time: time.Unix(1700000000, 0)}
	for _, tt := range []struct {
		name    string
		origin  Origin
		jobID   string
		ownSpan trace.Span // SetTrace
		encoded bool
	}{
		{"every header", Origin{Seq: 42, JobSeq: 7, Span: withState}, "order.1", nil, true},
		{"a Nats-Msg-Id only", Origin{Seq: 42}, "order.1", nil, true},
		{"a result's own trace context", Origin{Seq: 42, JobSeq: 7}, "order.1", span(t), true},
		{"no job id", Origin{Seq: 42, JobSeq: 7}, "", nil, true},
		{"a line break in the job id", Origin{Seq: 42}, "order\n1", nil, false},
		{"a space inside the job id", Origin{Seq: 42}, "order 1", nil, true},
		{"a tab before the job id", Origin{Seq: 42}, "\torder.1", nil, false},
	} {
		var r Results
		r.Init(tt.origin)
		e := *ev
		e.JobID = tt.jobID
		m := r.Msg(&e)
		if tt.ownSpan != nil {
			m.SetTrace(tt.ownSpan)
		}
		header, ok := m.appendHeader(nil)
		if ok != tt.encoded {
			t.Errorf("%s: encoded %v, want %v", tt.name, ok, tt.encoded)
		}
		if !ok {
			continue
		}
		if err := nc.PublishMsg(&m.Msg); err != nil {
			t.Fatal(err)
		}
		if err := publishEncoded(nc, m.Subject, "", false, header, m.Data); err != nil {
			t.Fatal(err)
		}
		var got [2]map[string][]string
		for i := range got {
			msg, err := sub.NextMsg(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Subject != m.Subject || string(msg.Data) != string(m.Data) {
				t.Errorf("%s: message %d: %s %s, want %s %s", tt.name, i, msg.Subject, msg.Data, m.Subject, m.Data)
			}
			got[i] = msg.Header
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Errorf("%s: headers through PublishMsg %q, encoded %q", tt.name, got[0], got[1])
		}
		m.Release()
	}
}

// The publisher stores a result message with its encoded headers: the
// stream de-duplicates it by its Nats-Msg-Id and keeps every header.
func TestPublisherStoresResultsWithEncodedHeaders(t *testing.T) {
	t.Parallel()
	_, js := natstest.Run(t).JetStream(t)
	s, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "R", Subjects: []string{"talkrelay.results.>"}})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPublisher(t.Context(), js, zerolog.New(zerolog.NewTestWriter(t)), 4)
	ev := &result.Event{Version: 1, JobID: "order.1", RecipientIndex: 3, Account: "shop", Status: result.Accepted,
		Time: time.Unix(1700000000, 0)}
	for range 2 { // a redelivered job stores its results again
		var r Results
		r.Init(Origin{Seq: 42, JobSeq: 7, Span: span(t)})
		done := make(chan error, 1)
		p.PublishResult(r.Msg(ev), StoredFunc(func(err error) { done <- err }))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
	stored, err := s.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, &nats.Msg{Header: stored.Header}, map[string]string{"Nats-Msg-Id": "order.1/3", "Talkrelay-Job-Seq": "7", "traceparent": traceparent})
	if want := ev.AppendJSON(nil); string(stored.Data) != string(want) || stored.Subject != "talkrelay.results.shop.accepted.order%1" {
		t.Errorf("stored %s %s, want %s", stored.Subject, stored.Data, want)
	}
}

// BenchmarkResultPublish publishes a result message (to no subscriber) as
// PublishMsg does, encoding its header map, and with the headers it
// encodes itself.
func BenchmarkResultPublish(b *testing.B) {
	nc := natstest.Run(b).Connect(b)
	var r Results
	r.Init(Origin{Seq: 42, JobSeq: 4200000, Span: span(b)})
	ev := &result.Event{Version: 1, JobID: "01JBENCHJOB0000000000000000", RecipientIndex: 1234, Account: "shop",
		Status: result.Accepted, Time: time.Unix(1700000000, 0)}
	m := r.Msg(ev)
	m.Reply = "_INBOX.abcdefghijklmnopqrstuv.17.2a"
	b.Run("PublishMsg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := nc.PublishMsg(&m.Msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.header, m.encoded = m.appendHeader(m.header[:0])
			if err := publishEncoded(nc, m.Subject, m.Reply, true, m.header, m.Data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// go.mod's nats.go is the one publishEncoded was checked against, so the
// encoded-header path is the one these tests take; the version check keeps
// it from another nats.go's publish.
func TestEncodedHeadersOnlyWithTheLinkedNATS(t *testing.T) {
	if !encodedHeaders {
		t.Fatalf("nats.go %s: publishEncoded was checked against %s; check its (*Conn).publish and update linkedNATS", nats.Version, linkedNATS)
	}
}
