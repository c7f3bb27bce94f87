package kakao

import (
	"context"

	"github.com/talkrelay/talkrelay/internal/providers"
)

var _ providers.Preflighter = (*Client)(nil)

// Preflight implements providers.Preflighter: Kakao issues a token for
// the client id and secret. Kakao Enterprise documents no sender query,
// so the sender is not checked.
func (c *Client) Preflight(ctx context.Context, _ string) (providers.Readiness, error) {
	_, err := c.tokens.get(ctx, "")
	return providers.Readiness{}, err
}
