package dispatch

import (
	"context"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// RequestGate is a's gate for a provider call that is not a send, such as
// a lookup or a reservation cancel: each of its HTTP requests first waits
// for a's rate limiter as one request of recipients recipients, and is
// then bounded by a's request timeout. The provider's client must come
// from providers.Gated.
func (a *Account) RequestGate(recipients int) *providers.RequestGate {
	return &providers.RequestGate{
		Wait:    func(ctx context.Context) error { return a.Limiter.Wait(ctx, recipients) },
		Timeout: a.RequestTimeout,
	}
}
