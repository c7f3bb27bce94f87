package providers

import "context"

// Preflighter is a provider that can check an account against the
// provider before anything is sent through it: that the credentials are
// accepted and that the account's sender exists and may send. The worker
// calls it at start-up (and `worker --check-config --online`); an account
// with a Problem is held (not ready) until a later check passes.
//
// Preflight returns an error when the provider could not be asked or
// refused the question (a *Error; one with Reason auth means the
// credentials were refused). It is safe for concurrent use.
type Preflighter interface {
	Preflight(ctx context.Context, sender string) (Readiness, error)
}

// Readiness is what a preflight found.
type Readiness struct {
	// Problem says why the account cannot send, or is "": the sender is
	// missing, blocked, dormant or not yet verified.
	Problem string
	// Quota describes the sender's daily quota when the provider has one
	// ("AlimTalk 250 of 1000 sent today"), or is "".
	Quota string
}
