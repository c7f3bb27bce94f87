package kakao

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// realClock reads time.Now: for suites that date sends with the real time
// (providertest.RunResolver).
func realClock() *providertest.Clock { return providertest.RealClock() }

// newClock starts at 2026-11-10 14:00 KST, a weekday afternoon outside the
// ad night.
func newClock() *providertest.Clock {
	return providertest.NewClock(time.Date(2026, 11, 10, 14, 0, 0, 0, msgcheck.KST))
}

// The credentials kakaofake accepts.
const (
	testClientID     = kakaofake.ClientID
	testClientSecret = kakaofake.ClientSecret
)

// fake is kakaofake's API with the clock the test shares with the client.
type fake struct {
	*kakaofake.Fake
	clock *providertest.Clock
}

func newFake(t *testing.T, clk *providertest.Clock, opts ...kakaofake.Option) *fake {
	t.Helper()
	return &fake{Fake: kakaofake.New(t, append([]kakaofake.Option{kakaofake.WithClock(clk.Now)}, opts...)...), clock: clk}
}
