package kakao

import (
	"sync"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
)

// clock is a settable test clock, or the real one (realClock).
type clock struct {
	mu   sync.Mutex
	t    time.Time
	real bool
}

// realClock reads time.Now: for suites that date sends with the real time
// (providertest.RunResolver).
func realClock() *clock { return &clock{real: true} }

// newClock starts at 2026-11-10 14:00 KST, a weekday afternoon outside the
// ad night.
func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 10, 14, 0, 0, 0, msgcheck.KST)}
}

func (c *clock) Now() time.Time {
	if c.real {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The credentials kakaofake accepts.
const (
	testClientID     = kakaofake.ClientID
	testClientSecret = kakaofake.ClientSecret
)

// fake is kakaofake's API with the clock the test shares with the client.
type fake struct {
	*kakaofake.Fake
	clock *clock
}

func newFake(t *testing.T, clk *clock, opts ...kakaofake.Option) *fake {
	t.Helper()
	return &fake{Fake: kakaofake.New(t, append([]kakaofake.Option{kakaofake.WithClock(clk.Now)}, opts...)...), clock: clk}
}
