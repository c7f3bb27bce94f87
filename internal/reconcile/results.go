package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/retry"
)

// Envelopes returns the follow-up envelopes recorded for job jobID, by
// every delivery of it (see EnvelopeRecord); an unreadable record is
// skipped.
func (r *Records) Envelopes(jobID string) ([]*retry.Envelope, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := r.sends.ListKeysFiltered(ctx, jobKey(jobID)+".e.>")
	if err != nil {
		return nil, fmt.Errorf("list envelope records: %w", err)
	}
	var envs []*retry.Envelope
	for k := range keys.Keys() {
		e, err := r.sends.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read envelope record: %w", err)
		}
		if env, err := retry.Decode(e.Value()); err == nil {
			envs = append(envs, env)
		}
	}
	return envs, nil
}
