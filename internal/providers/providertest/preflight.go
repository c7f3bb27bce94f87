package providertest

import (
	"context"
	"errors"
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// PreflightSuite is the conformance suite of providers.Preflighter: every
// provider that implements it must pass it against its fake.
type PreflightSuite struct {
	// New starts a fake and returns an adapter with the credentials it
	// accepts, one whose credentials it refuses, and a func that makes the
	// provider fail (HTTP 500) the next question it is asked.
	New func(t *testing.T) (good, refused providers.Preflighter, fail func())
	// Usable is a sender the fake reports able to send ("" when the
	// provider checks no sender); Unusable one it reports blocked or
	// dormant, and Missing one it does not list ("" to skip either).
	Usable, Unusable, Missing string
}

// Run runs the suite.
func (s PreflightSuite) Run(t *testing.T) {
	ctx := context.Background()
	t.Run("ready", func(t *testing.T) {
		good, _, _ := s.New(t)
		r, err := good.Preflight(ctx, s.Usable)
		if err != nil || r.Problem != "" {
			t.Fatalf("usable sender %q: %+v, %v; want no problem", s.Usable, r, err)
		}
	})
	for name, sender := range map[string]string{"unusable sender": s.Unusable, "missing sender": s.Missing} {
		if sender == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			good, _, _ := s.New(t)
			r, err := good.Preflight(ctx, sender)
			if err != nil || r.Problem == "" {
				t.Fatalf("%s %q: %+v, %v; want a problem and no error", name, sender, r, err)
			}
		})
	}
	t.Run("credentials refused", func(t *testing.T) {
		_, refused, _ := s.New(t)
		_, err := refused.Preflight(ctx, s.Usable)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Reason != result.ReasonAuth {
			t.Fatalf("refused credentials: %v; want a *providers.Error with reason auth", err)
		}
	})
	t.Run("provider failing", func(t *testing.T) {
		good, _, fail := s.New(t)
		fail()
		_, err := good.Preflight(ctx, s.Usable)
		var pe *providers.Error
		if err == nil || (errors.As(err, &pe) && pe.Reason == result.ReasonAuth) {
			t.Fatalf("HTTP 500: %v; want an error that is not about credentials (the worker serves the account)", err)
		}
	})
}
