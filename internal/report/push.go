package report

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// Push stores the reports a provider pushed to talkrelay's webhook for
// one account: the same events as polling (Correlate: ref, masked phone
// and metadata from the accepted results, leaving out recipients already
// reported), published the one way (Publish), so a report pushed twice, or
// pushed and polled, is stored once.
type Push struct {
	Account  string
	Provider string
	JS       jetstream.JetStream
	Records  Store
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
		kindEvs, err := Correlate(ctx, p.Records, p.Account, p.Provider, kind, byKind[kind], p.Now())
		if err != nil {
			return err
		}
		evs = append(evs, kindEvs...)
	}
	return Publish(ctx, p.JS, evs)
}
