package kakao

import (
	"net/http"
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// TestPreflightConformance: Kakao's preflight is the token; it checks no
// sender.
func TestPreflightConformance(t *testing.T) {
	t.Parallel()
	providertest.PreflightSuite{
		New: func(t *testing.T) (providers.Preflighter, providers.Preflighter, func()) {
			clk := newClock()
			good, refused := newFake(t, clk), newFake(t, clk)
			refused.NextToken(http.StatusUnauthorized)
			return newTestClient(t, good, nil), newTestClient(t, refused, nil), func() { good.NextToken(http.StatusInternalServerError) }
		},
	}.Run(t)
}
