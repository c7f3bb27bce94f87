package dispatch

import (
	"context"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// Gate returns ctx carrying a providers.RequestGate of a: each HTTP
// request of a provider call made with it — one that is not a send, such
// as a lookup or a reservation cancel — first waits for a's rate limiter
// as one request of recipients recipients, and is then bounded by a's
// request timeout. The provider's client must come from providers.Gated.
func (a *Account) Gate(ctx context.Context, recipients int) context.Context {
	return providers.WithRequestGate(ctx, &providers.RequestGate{
		Wait:    func(ctx context.Context) error { return a.Limiter.Wait(ctx, recipients) },
		Timeout: a.RequestTimeout,
	})
}
