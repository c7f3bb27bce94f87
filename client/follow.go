package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"

	"github.com/nats-io/nats.go/jetstream"
)

// follow yields the messages of stream that cfg selects, oldest first,
// each with its body decoded into a T, through an ordered consumer, until
// the loop breaks. An *EventError is yielded for a message whose body does
// not decode and the sequence goes on; any other error, ctx's included,
// is the last value yielded.
func follow[T any](ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig) iter.Seq2[followed[T], error] {
	return func(yield func(followed[T], error) bool) {
		cons, err := js.OrderedConsumer(ctx, stream, cfg)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			err = ErrNotSetUp
		}
		if err != nil {
			yield(followed[T]{}, fmt.Errorf("talkrelay: read %s: %w", stream, err))
			return
		}
		it, err := cons.Messages()
		if err != nil {
			yield(followed[T]{}, fmt.Errorf("talkrelay: read %s: %w", stream, err))
			return
		}
		defer it.Stop()
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() != nil {
					err = context.Cause(ctx)
				}
				yield(followed[T]{}, fmt.Errorf("talkrelay: read %s: %w", stream, err))
				return
			}
			var v T
			if err := json.Unmarshal(msg.Data(), &v); err != nil {
				if !yield(followed[T]{}, &EventError{Subject: msg.Subject(), Err: err}) {
					return
				}
				continue
			}
			if !yield(followed[T]{v: v, msg: msg}, nil) {
				return
			}
		}
	}
}

// followed is a message yielded by follow, decoded.
type followed[T any] struct {
	v   T
	msg jetstream.Msg
}

// caughtUp says that no other matching message was stored when this one
// was delivered.
func (f followed[T]) caughtUp() bool {
	md, err := f.msg.Metadata()
	return err == nil && md.NumPending == 0
}
