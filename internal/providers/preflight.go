package providers

import (
	"context"

	"github.com/talkrelay/talkrelay/internal/job"
)

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
	// Quotas are the sender's daily quotas per kind, when it has any.
	Quotas []Quota
}

// Quota is a sender's daily quota of one kind of message: Max a day
// (provider's day), Sent so far today.
type Quota struct {
	Kind job.Kind `json:"kind"`
	Max  int      `json:"max"`
	Sent int      `json:"sent"`
}

// Spent tells whether the day's quota is used up.
func (q Quota) Spent() bool { return q.Max > 0 && q.Sent >= q.Max }

// SenderLookup is a provider that can tell what it knows of one sender
// (exists, blocked, dormant, its daily quotas): the worker's sender guard
// asks it once per sender and caches the answer (see internal/guard). A
// provider without a sender query (Kakao) does not implement it.
type SenderLookup interface {
	SenderState(ctx context.Context, sender string) (Readiness, error)
}

// TemplateLookup is a provider that can tell whether a template may be
// sent by a sender: the worker's template guard asks it once per template
// and caches the answer (see internal/guard). Problem is "" when the
// template exists and is approved; an error means the provider could not
// be asked.
type TemplateLookup interface {
	TemplateProblem(ctx context.Context, sender, template string) (problem string, err error)
}
