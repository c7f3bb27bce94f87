package report

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// Push stores the reports a provider pushed to talkrelay's webhook for
// one account: the same events as polling (Window.events: ref, masked
// phone and metadata from the accepted results), published the one way
// (Publish), so a report pushed twice, or pushed and polled within the
// reports stream's duplicate window, is stored once.
type Push struct {
	Account  string
	Provider string
	JS       jetstream.JetStream
	// Accepted reads the stored accepted results of a job (see Window).
	Accepted func(ctx context.Context, account, jobID string, each func([]byte)) error
	Now      func() time.Time
}

// Store publishes reps and returns once JetStream has stored them all.
func (p *Push) Store(ctx context.Context, reps []providers.HookReport) error {
	byKind := map[job.Kind][]providers.Report{}
	var kinds []job.Kind
	for _, r := range reps {
		if _, seen := byKind[r.Kind]; !seen {
			kinds = append(kinds, r.Kind)
		}
		byKind[r.Kind] = append(byKind[r.Kind], r.Report)
	}
	var evs []*Event
	for _, kind := range kinds {
		w := Window{Kind: kind, Account: p.Account, Provider: p.Provider, Accepted: p.Accepted, Now: p.Now}
		kindEvs, err := w.events(ctx, byKind[kind])
		if err != nil {
			return err
		}
		evs = append(evs, kindEvs...)
	}
	return Publish(ctx, p.JS, evs)
}
