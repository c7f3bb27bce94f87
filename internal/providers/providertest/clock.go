package providertest

import (
	"sync"
	"time"
)

// Clock is a settable clock a test shares between a fake and an adapter.
// It is safe for concurrent use (fakes read it from server goroutines).
type Clock struct {
	mu   sync.Mutex
	t    time.Time
	real bool
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// RealClock returns a clock that reads time.Now, for suites that date
// sends with the real time (RunResolver).
func RealClock() *Clock { return &Clock{real: true} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	if c.real {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
