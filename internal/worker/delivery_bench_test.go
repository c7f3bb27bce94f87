package worker

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/intake"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// BenchmarkJobDelivery measures what the worker spends on each fresh
// one-recipient job besides checking its recipient: the delivery, its
// span and trace id, what its items share, tracked until settled. The job message is a real one,
// fetched from a server, with and without a producer's traceparent.
func BenchmarkJobDelivery(b *testing.B) {
	for _, c := range []struct{ name, traceparent string }{
		{"no-traceparent", ""},
		{"unsampled-traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
	} {
		b.Run(c.name, func(b *testing.B) {
			msg := fetchJobMsg(b, c.traceparent)
			w := &Worker{log: zerolog.New(io.Discard).Level(zerolog.InfoLevel), tracer: defaultTracer(), defaultTracer: true, track: newTracker()}
			j := &job.Job{ID: "order-1", Account: "shop", Kind: job.AlimTalk, Recipients: make([]job.Recipient, 1)}
			acct := &account{Account: &dispatch.Account{Sender: "@shop"}}
			b.ReportAllocs()
			for b.Loop() {
				d := w.jobDelivery(msg, j, acct)
				if d.traceID == "" || d.source(&j.Recipients[0]).Owner != d {
					b.Fatal("no trace id or source")
				}
				w.track.remove(d)
			}
		})
	}
}

// fetchJobMsg publishes a job message (with traceparent, if not empty) and
// returns it as a lane delivers it, held until the benchmark ends.
func fetchJobMsg(b *testing.B, traceparent string) *intake.Msg {
	b.Helper()
	_, js := natstest.Run(b).JetStream(b)
	natstest.EnsureStreams(b, js)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := nats.NewMsg(streams.JobSubject("shop", "alimtalk"))
	m.Data = []byte(`{"version":1,"id":"order-1","account":"shop","kind":"alimtalk"}`)
	m.Header.Set(jetstream.MsgIDHeader, "order-1")
	if traceparent != "" {
		m.Header.Set("traceparent", traceparent)
	}
	if _, err := js.PublishMsg(ctx, m); err != nil {
		b.Fatal(err)
	}
	got := make(chan *intake.Msg, 1)
	in := intake.New(js, intake.Config{Consumer: streams.WorkerConsumer, AckWait: time.Minute, MaxDeliver: 10, MaxAckPending: 100, PullBatch: 10, LaneBytes: 1 << 20, Starters: 1}, func(_ *intake.Lane, msgs []*intake.Msg) {
		for _, m := range msgs {
			got <- m
		}
	})
	if err := in.Start(ctx, []string{"shop"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Stop(); in.Close() })
	select {
	case msg := <-got:
		return msg
	case <-ctx.Done():
		b.Fatal("the job was not delivered")
		return nil
	}
}
