package worker

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
)

// shareLimits gives each rate-limited account a limiter shared with every
// replica through the ratelimit bucket, which it creates or updates, and
// returns them by account.
func shareLimits(ctx context.Context, js jetstream.JetStream, cfg *config.Config, accounts []*dispatch.Account) (map[string]*ratelimit.Global, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, ratelimit.BucketConfig(cfg.Streams.Replicas))
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", ratelimit.Bucket, err)
	}
	shared := map[string]*ratelimit.Global{}
	for i, a := range accounts {
		if limit := cfg.Accounts[i].RateLimit; limit.Limited() {
			g := ratelimit.NewGlobal(kv, a.Name, limit, a.Client.MaxBatch())
			a.Limiter, a.Feedback, shared[a.Name] = g, g, g
		}
	}
	return shared, nil
}

// observeRates exports each shared limiter's effective rates:
// talkrelay_ratelimit_effective_rate{account,dimension} (per second, after
// headroom and the provider's throttling; the same on every replica).
func (m *metrics) observeRates(limits map[string]*ratelimit.Global) error {
	meter := m.provider.Meter("github.com/talkrelay/talkrelay/worker")
	_, err := meter.Float64ObservableGauge("talkrelay.ratelimit.effective_rate",
		metric.WithDescription("The account's rate limit in force, per second, after headroom and cuts for the provider's throttling (dimension requests or recipients)."),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			for name, g := range limits {
				requests, recipients := g.Rates()
				for dim, rate := range map[string]float64{"requests": requests, "recipients": recipients} {
					if rate > 0 {
						o.Observe(rate, metric.WithAttributes(attribute.String("account", name), attribute.String("dimension", dim)))
					}
				}
			}
			return nil
		}))
	return err
}
