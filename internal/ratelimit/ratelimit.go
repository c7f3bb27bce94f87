// Package ratelimit keeps each provider account within its rate limits:
// requests per second and recipients per second. Global shares one limit
// among every worker replica through a JetStream KV bucket; Local is an
// in-process limiter, for accounts without a limit and for tests.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Config is an account's rate limit. Zero means unlimited.
type Config struct {
	// RequestsPerSecond caps provider requests.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// RecipientsPerSecond caps recipients sent, across requests.
	RecipientsPerSecond float64 `yaml:"recipients_per_second"`
	// Burst is how many requests may go at once after an idle spell
	// (default 1: requests are evenly spaced).
	Burst int `yaml:"burst"`
	// Headroom is the share of the limit left unused, 0..0.5 (default
	// 0.03): requests are admitted at (1-headroom) times the limits, so
	// that the jitter between admission and arrival at the provider
	// (scheduling, GC, the network) never pushes a one-second window at
	// the provider over the limit.
	Headroom *float64 `yaml:"headroom"`
}

// DefaultHeadroom is the headroom of a Config that sets none.
const DefaultHeadroom = 0.03

func (c Config) headroom() float64 {
	if c.Headroom == nil {
		return DefaultHeadroom
	}
	return *c.Headroom
}

// Validate names the first field out of range.
func (c Config) Validate() error {
	switch {
	case c.RequestsPerSecond < 0 || math.IsNaN(c.RequestsPerSecond):
		return fmt.Errorf("requests_per_second: %g is negative", c.RequestsPerSecond)
	case c.RecipientsPerSecond < 0 || math.IsNaN(c.RecipientsPerSecond):
		return fmt.Errorf("recipients_per_second: %g is negative", c.RecipientsPerSecond)
	case c.Burst < 0:
		return fmt.Errorf("burst: %d is negative", c.Burst)
	case c.headroom() < 0 || c.headroom() > 0.5 || math.IsNaN(c.headroom()):
		return fmt.Errorf("headroom: %g is out of range 0..0.5", c.headroom())
	}
	return nil
}

// Limiter admits provider requests.
type Limiter interface {
	// Wait blocks until a request carrying n recipients may be sent, or ctx
	// ends. It never admits more than the configured rates.
	Wait(ctx context.Context, n int) error
}

// Local is an in-process limiter: a token bucket per dimension.
type Local struct {
	requests   *rate.Limiter // nil: unlimited
	recipients *rate.Limiter
	now        func() time.Time
}

// NewLocal returns a limiter for cfg. maxBatch is the largest n Wait will be
// asked for; the recipients bucket is at least that deep so that a full
// batch can ever pass.
func NewLocal(cfg Config, maxBatch int) *Local {
	l := &Local{now: time.Now}
	burst := max(cfg.Burst, 1)
	share := 1 - cfg.headroom()
	if cfg.RequestsPerSecond > 0 {
		l.requests = rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond*share), burst)
	}
	if cfg.RecipientsPerSecond > 0 {
		l.recipients = rate.NewLimiter(rate.Limit(cfg.RecipientsPerSecond*share), max(maxBatch, burst))
	}
	return l
}

// Reserve takes the tokens for a request of n recipients at time now and
// returns how long the caller must wait before sending it.
func (l *Local) Reserve(now time.Time, n int) (time.Duration, error) {
	var wait time.Duration
	var taken []*rate.Reservation
	for _, lim := range []struct {
		l *rate.Limiter
		n int
	}{{l.requests, 1}, {l.recipients, n}} {
		if lim.l == nil {
			continue
		}
		r := lim.l.ReserveN(now, lim.n)
		if !r.OK() {
			for _, t := range taken {
				t.CancelAt(now)
			}
			return 0, fmt.Errorf("ratelimit: a request of %d recipients exceeds the bucket of %d", lim.n, lim.l.Burst())
		}
		taken = append(taken, r)
		wait = max(wait, r.DelayFrom(now))
	}
	return wait, nil
}

// Wait implements Limiter.
func (l *Local) Wait(ctx context.Context, n int) error {
	d, err := l.Reserve(l.now(), n)
	if err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		// The tokens stay spent: a cancelled wait is rare (shutdown) and
		// giving them back could let a burst through.
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
