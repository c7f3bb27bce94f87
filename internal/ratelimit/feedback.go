package ratelimit

import "time"

// Feedback is told when the provider throttled a request the limiter
// admitted: it answered 429, its own too-many-requests or quota code, or a
// Retry-After (0 when it gave none). The dispatcher calls it after each
// such answer; the limiter lowers the account's rate.
type Feedback interface {
	Throttled(retryAfter time.Duration) error
}
