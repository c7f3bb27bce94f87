package worker_test

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// A provider's 429 cuts the account's rate, which
// talkrelay_ratelimit_effective_rate shows, and the recipient is sent
// again.
func TestThrottledAnswerCutsTheEffectiveRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	throttled := providers.Outcome{Class: providers.Retryable, Reason: result.ReasonRateLimited, Code: "429", Message: "too many requests"}
	s := &scripted{limit: 100, answer: func(_ string, attempt int) providers.Outcome {
		if attempt == 1 {
			return throttled
		}
		return accepted
	}}
	addr := freeAddr(t)
	e.startScripted(s, 3, func(c *config.Config) {
		c.HTTP.Addr = addr
		c.Accounts[0].RateLimit.RequestsPerSecond = 100 // 97 after the default headroom
	})
	rate := func() float64 {
		v, _ := find(scrape(t, addr), "talkrelay_ratelimit_effective_rate", `account="acct"`, `dimension="requests"`)
		return v
	}
	if r := rate(); r < 96.9 || r > 97.1 {
		t.Fatalf("effective rate before any answer: %g, want 97", r)
	}
	e.publishJob(testJob("throttled", "acct", 1))
	waitFor(t, 30*time.Second, "the effective rate cut below 97", func() bool { return rate() < 96 })
	if ev := e.results(1, 30*time.Second)[0]; ev.Status != result.Accepted {
		t.Fatalf("result %s (%s), want accepted after the retry", ev.Status, ev.Reason)
	}
}
