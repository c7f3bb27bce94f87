package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/store"
)

// publisherOn returns a publisher on a new connection to srv with stream
// "T" on subjects t.> whose messages may be at most maxMsgSize bytes.
func publisherOn(t testing.TB, srv *natstest.Server, ctx context.Context, maxMsgSize int32) *store.Publisher {
	t.Helper()
	_, js := srv.JetStream(t)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, MaxMsgSize: maxMsgSize}); err != nil {
		t.Fatal(err)
	}
	return store.NewPublisher(ctx, js, zerolog.New(zerolog.NewTestWriter(t)), 16)
}

// publish publishes msg and returns what the publisher reported, failing
// the test if it reports nothing for a minute (a publish retried forever).
func publish(t *testing.T, p *store.Publisher, msg *nats.Msg) error {
	t.Helper()
	got := make(chan error, 2)
	p.Publish(msg, func(err error) { got <- err })
	select {
	case err := <-got:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("publish of %d bytes to %s: no outcome reported after a minute", len(msg.Data), msg.Subject)
		return nil
	}
}

// A publish that can never succeed is reported as failed at once instead
// of being retried until the publisher's context ends: with NATS's default
// max_payload (1 MiB) and a small one, a message larger than the server
// accepts (refused by the client), and one larger than the stream accepts
// (refused by the server, after an asynchronous publish).
func TestPublishThatCanNeverSucceedIsReportedAtOnce(t *testing.T) {
	t.Parallel()
	for _, maxPayload := range []int32{1 << 20, 64 << 10} {
		t.Run(fmt.Sprintf("max_payload=%d", maxPayload), func(t *testing.T) {
			t.Parallel()
			srv := natstest.RunWith(t, server.Options{MaxPayload: maxPayload})
			p := publisherOn(t, srv, t.Context(), maxPayload/2)
			defer p.Close()

			err := publish(t, p, &nats.Msg{Subject: "t.big", Data: make([]byte, maxPayload+1)})
			if !errors.Is(err, nats.ErrMaxPayload) {
				t.Errorf("message over max_payload: reported %v, want %v", err, nats.ErrMaxPayload)
			}
			err = publish(t, p, &nats.Msg{Subject: "t.big", Data: make([]byte, maxPayload/2+1)})
			if !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
				t.Errorf("message over the stream's max_msg_size: reported %v, want %v", err, jetstream.ErrStreamMessageExceedsMaximum)
			}
			if err := publish(t, p, &nats.Msg{Subject: "t.small", Data: []byte("fits")}); err != nil {
				t.Errorf("a message that fits: %v", err)
			}
		})
	}
}

// Once the publisher's context ends, nothing waits for NATS any more: with
// the server gone, Close returns and a later Publish is reported failed
// (before, Close waited for an ack that never came, and a Publish after
// Close panicked on the closed queue).
func TestPublisherGivesUpOnceCancelledAndAfterClose(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := publisherOn(t, srv, ctx, 0)
	if err := publish(t, p, &nats.Msg{Subject: "t.a", Data: []byte("stored")}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	// Buffered by the client while it reconnects: no ack will come.
	got := make(chan error, 1)
	p.Publish(&nats.Msg{Subject: "t.a", Data: []byte("lost")}, func(err error) { got <- err })
	cancel()
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close did not return a minute after the publisher's context ended")
	}
	if err := <-got; err == nil {
		t.Error("a publish never acknowledged was reported stored")
	}
	if err := publish(t, p, &nats.Msg{Subject: "t.a", Data: []byte("late")}); err == nil {
		t.Error("a publish after Close was reported stored")
	}
}

func TestPermanentPublishErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nats.ErrMaxPayload, true},
		{fmt.Errorf("nats: %w", &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamMessageExceedsMaximum, Code: 400}), true},
		{fmt.Errorf("nats: %w", &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamNotFound, Code: 404}), true},
		{fmt.Errorf("%w: Permissions Violation for Publish to \"x\"", nats.ErrPermissionViolation), true},
		{nats.ErrConnectionClosed, true},
		{nats.ErrTimeout, false},
		{context.DeadlineExceeded, false},
		{jetstream.ErrAsyncPublishTimeout, false},
		{jetstream.ErrNoStreamResponse, false},
		{nats.ErrNoResponders, false},
		{jetstream.ErrTooManyStalledMsgs, false},
		{nats.ErrReconnectBufExceeded, false},
	} {
		if got := store.Permanent(tt.err); got != tt.want {
			t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
