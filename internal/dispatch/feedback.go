package dispatch

import (
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// feedback tells the account's limiter when the provider throttled a
// request: any outcome rate_limited (429 or the provider's own
// too-many-requests or quota code) or with a Retry-After.
func (d *Dispatcher) feedback(a *account, outcomes []providers.Outcome) {
	if a.Feedback == nil {
		return
	}
	throttled := false
	var retryAfter time.Duration
	for i := range outcomes {
		o := &outcomes[i]
		if o.EffectiveReason() == result.ReasonRateLimited || o.RetryAfter > 0 {
			throttled, retryAfter = true, max(retryAfter, o.RetryAfter)
		}
	}
	if !throttled {
		return
	}
	if err := a.Feedback.Throttled(retryAfter); err != nil {
		d.cfg.Log.Warn().Err(err).Str("account", a.Name).Msg("provider throttled: the rate cut reached this replica only")
	}
}
