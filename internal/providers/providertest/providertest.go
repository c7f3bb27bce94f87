// Package providertest is the conformance suite every provider adapter must
// pass against its httptest fake. The fake is written from the provider's
// API documents and checks requests as strictly as they do.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Answer says how a fake answers the next send request. The zero Answer is
// the API's normal success for every message.
type Answer struct {
	// Codes answers the message at the given index of the request with the
	// provider's own result code instead of success (a partial failure).
	Codes map[int]string
	// Status answers the whole request with this HTTP status and the
	// provider's documented error body for it.
	Status int
	// RetryAfter is sent as the Retry-After header with Status (seconds).
	RetryAfter string
	// Malformed answers the success status with a body that is not JSON.
	Malformed bool
	// Empty answers the success status with an empty body.
	Empty bool
	// Hang takes the messages (as the provider would: they count as
	// accepted and later lookups find them), then never answers until the
	// client goes away: a timeout after the request was written, with the
	// answer lost.
	Hang bool
	// HangUntaken reads the whole request without taking the messages and
	// never answers: the same timeout for the client, but lookups find
	// nothing.
	HangUntaken bool
	// LookupStatus answers the next lookup (query) request with this HTTP
	// status and the provider's error body.
	LookupStatus int
	// Unauthorized answers as the provider does to bad or expired credentials.
	Unauthorized bool
}

// Fake is a provider's API served by httptest.
//
// A fake fails the test (t.Errorf) on any request that breaks the
// provider's documented rules: missing or wrong auth, a bad signature, a
// missing mandatory field, a field over its limit, too many recipients.
type Fake interface {
	// URL is the base URL to point the adapter at.
	URL() string
	// Next queues answers for the coming send requests, one each; after the
	// queue is empty, send requests succeed.
	Next(answers ...Answer)
	// Sends counts send requests that reached the fake, whatever their answer.
	Sends() int
	// LastBody is the body of the most recent send request.
	LastBody() []byte
}

// LookupFake is a Fake that also serves the provider's query API, from
// the messages it took.
type LookupFake interface {
	Fake
	// Lookups counts query requests.
	Lookups() int
}

// Suite describes one provider for the conformance run.
type Suite struct {
	// NewFake starts the fake; it stops when the test ends.
	NewFake func(t *testing.T) Fake
	// NewProvider builds the adapter pointed at fake.
	NewProvider func(t *testing.T, fake Fake) providers.Provider
	// Job returns a valid job of the provider's main kind with n recipients.
	Job func(n int) *job.Job
	// Codes the fake answers per message for each class.
	RetryableCode, PermanentCode, UnknownCode string
	// NotFoundAfter is how long after a send a provider's lookup may take
	// "not found" to mean "never taken" (Resolver implementations only).
	NotFoundAfter time.Duration
}

// Batch builds the batch for the first n recipients of j.
func Batch(j *job.Job, n int) *providers.Batch {
	b := &providers.Batch{ID: fmt.Sprintf("batch-%s-%d", j.ID, n)}
	for i := 0; i < n; i++ {
		r := &j.Recipients[i]
		b.Messages = append(b.Messages, providers.Message{Job: j, Index: i, Recipient: r, Attempt: 1})
	}
	b.Key = providers.KeyOf(j, &j.Recipients[0], "")
	return b
}

// Run runs the conformance suite.
func Run(t *testing.T, s Suite) {
	t.Helper()
	setup := func(t *testing.T) (Fake, providers.Provider, *providers.Batch) {
		fake := s.NewFake(t)
		p := s.NewProvider(t, fake)
		n := min(p.MaxBatch(), 3)
		j := s.Job(n)
		for i := range j.Recipients {
			m := providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1}
			if err := p.Check(&m); err != nil {
				t.Fatalf("suite job recipient %d fails Check: %v", i, err)
			}
		}
		return fake, p, Batch(j, n)
	}
	send := func(t *testing.T, p providers.Provider, b *providers.Batch, timeout time.Duration) ([]providers.Outcome, error) {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		return p.Send(ctx, b)
	}
	wantBatchError := func(t *testing.T, err error, class providers.Class, reason result.Reason) *providers.Error {
		t.Helper()
		var pe *providers.Error
		if !errors.As(err, &pe) {
			t.Fatalf("Send error = %v, want a *providers.Error", err)
		}
		if pe.Class != class {
			t.Errorf("class = %s, want %s (%v)", pe.Class, class, pe)
		}
		if reason != "" && pe.Outcome().Reason != reason {
			t.Errorf("reason = %q, want %q (%v)", pe.Reason, reason, pe)
		}
		return pe
	}

	t.Run("accepts every message", func(t *testing.T) {
		fake, p, b := setup(t)
		out, err := send(t, p, b, 5*time.Second)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if len(out) != len(b.Messages) {
			t.Fatalf("%d outcomes for %d messages", len(out), len(b.Messages))
		}
		for i, o := range out {
			if o.Class != providers.Accepted {
				t.Errorf("message %d: class %s (%+v), want accepted", i, o.Class, o)
			}
		}
		if fake.Sends() != 1 {
			t.Errorf("fake saw %d send requests, want 1", fake.Sends())
		}
	})

	for _, tc := range []struct {
		name  string
		code  string
		class providers.Class
	}{
		{"retryable code", s.RetryableCode, providers.Retryable},
		{"permanent code", s.PermanentCode, providers.Permanent},
		{"unknown-outcome code", s.UnknownCode, providers.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code == "" {
				t.Skip("provider has no such per-message code")
			}
			fake, p, b := setup(t)
			last := len(b.Messages) - 1
			fake.Next(Answer{Codes: map[int]string{last: tc.code}})
			out, err := send(t, p, b, 5*time.Second)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(out) != len(b.Messages) {
				t.Fatalf("%d outcomes for %d messages", len(out), len(b.Messages))
			}
			for i, o := range out {
				want := providers.Accepted
				if i == last {
					want = tc.class
				}
				if o.Class != want {
					t.Errorf("message %d: class %s, want %s (%+v)", i, o.Class, want, o)
				}
			}
			if o := out[last]; o.Code != tc.code || o.CodeName == "" {
				t.Errorf("failed message: code %q name %q, want code %q with its documented name", o.Code, o.CodeName, tc.code)
			}
		})
	}

	t.Run("429 with Retry-After", func(t *testing.T) {
		fake, p, b := setup(t)
		fake.Next(Answer{Status: 429, RetryAfter: "7"})
		_, err := send(t, p, b, 5*time.Second)
		pe := wantBatchError(t, err, providers.Retryable, result.ReasonRateLimited)
		if pe.RetryAfter != 7*time.Second {
			t.Errorf("RetryAfter = %s, want 7s", pe.RetryAfter)
		}
	})

	// 503 says the service did not take the request. 500, 502 and 504 come
	// after the request was written and may follow acceptance (a gateway
	// timing out on a backend that took the message): unknown, so that the
	// worker looks the messages up before it would send them again.
	for status, class := range map[int]providers.Class{500: providers.Unknown, 502: providers.Unknown, 503: providers.Retryable, 504: providers.Unknown} {
		t.Run(fmt.Sprintf("HTTP %d", status), func(t *testing.T) {
			fake, p, b := setup(t)
			fake.Next(Answer{Status: status})
			_, err := send(t, p, b, 5*time.Second)
			wantBatchError(t, err, class, "")
		})
	}

	t.Run("timeout after the request was written", func(t *testing.T) {
		fake, p, b := setup(t)
		fake.Next(Answer{Hang: true})
		_, err := send(t, p, b, 300*time.Millisecond)
		wantBatchError(t, err, providers.Unknown, result.ReasonTimeout)
	})

	t.Run("timeout with the messages untaken", func(t *testing.T) {
		fake, p, b := setup(t)
		fake.Next(Answer{HangUntaken: true})
		_, err := send(t, p, b, 300*time.Millisecond)
		wantBatchError(t, err, providers.Unknown, result.ReasonTimeout)
	})

	t.Run("connection refused before the request was written", func(t *testing.T) {
		fake := s.NewFake(t)
		p := s.NewProvider(t, deadFake{fake})
		j := s.Job(1)
		_, err := send(t, p, Batch(j, 1), 5*time.Second)
		wantBatchError(t, err, providers.Retryable, result.ReasonProviderUnavailable)
	})

	t.Run("malformed body", func(t *testing.T) {
		fake, p, b := setup(t)
		fake.Next(Answer{Malformed: true})
		_, err := send(t, p, b, 5*time.Second)
		wantBatchError(t, err, providers.Unknown, "")
	})

	t.Run("empty body", func(t *testing.T) {
		fake, p, b := setup(t)
		fake.Next(Answer{Empty: true})
		_, err := send(t, p, b, 5*time.Second)
		wantBatchError(t, err, providers.Unknown, "")
	})

	t.Run("credentials refused", func(t *testing.T) {
		fake, p, b := setup(t)
		// Twice: an adapter that renews a token on 401 retries once.
		fake.Next(Answer{Unauthorized: true}, Answer{Unauthorized: true})
		_, err := send(t, p, b, 5*time.Second)
		wantBatchError(t, err, providers.Permanent, result.ReasonAuth)
	})

	t.Run("oversized batch is refused without a request", func(t *testing.T) {
		fake, p, _ := setup(t)
		n := p.MaxBatch() + 1
		b := Batch(s.Job(n), n)
		if _, err := send(t, p, b, 5*time.Second); err == nil {
			t.Fatal("Send of MaxBatch+1 messages succeeded")
		}
		if fake.Sends() != 0 {
			t.Errorf("fake saw %d requests for an oversized batch", fake.Sends())
		}
	})
}

// deadFake points at an address nothing listens on.
type deadFake struct{ Fake }

func (deadFake) URL() string { return "http://127.0.0.1:1" }

// RunResolver runs the lookup part of the suite for a provider that
// implements providers.Resolver; its fake must be a LookupFake.
func RunResolver(t *testing.T, s Suite) {
	t.Helper()
	setup := func(t *testing.T) (LookupFake, providers.Provider, providers.Resolver, *providers.Batch) {
		fake, ok := s.NewFake(t).(LookupFake)
		if !ok {
			t.Fatal("the fake does not serve lookups (providertest.LookupFake)")
		}
		p := s.NewProvider(t, fake)
		r, ok := p.(providers.Resolver)
		if !ok {
			t.Fatal("the provider is not a providers.Resolver")
		}
		n := min(p.MaxBatch(), 3)
		return fake, p, r, Batch(s.Job(n), n)
	}
	// sendUnknown sends b with answer a, which must end unknown, and
	// returns the lookups for its messages.
	sendUnknown := func(t *testing.T, fake Fake, p providers.Provider, b *providers.Batch, a Answer, sentAt time.Time) []providers.Query {
		t.Helper()
		fake.Next(a)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		_, err := p.Send(ctx, b)
		cancel()
		o := providers.OutcomeOf(err)
		if o.Class != providers.Unknown {
			t.Fatalf("send with %+v: %s, want unknown", a, o.Class)
		}
		qs := make([]providers.Query, len(b.Messages))
		for i, m := range b.Messages {
			qs[i] = providers.Query{Message: m, Key: b.Key, SentAt: sentAt, Last: o}
		}
		return qs
	}
	resolve := func(t *testing.T, r providers.Resolver, qs []providers.Query) ([]providers.Outcome, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		return r.Resolve(ctx, qs)
	}

	t.Run("lookup finds messages taken before a timeout", func(t *testing.T) {
		fake, p, r, b := setup(t)
		qs := sendUnknown(t, fake, p, b, Answer{Hang: true}, time.Now())
		out, err := resolve(t, r, qs)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if len(out) != len(qs) {
			t.Fatalf("%d outcomes for %d lookups", len(out), len(qs))
		}
		for i, o := range out {
			if o.Class != providers.Accepted {
				t.Errorf("lookup %d: %s (%+v), want accepted", i, o.Class, o)
			}
		}
		if fake.Lookups() == 0 {
			t.Error("the fake saw no lookup request")
		}
	})

	t.Run("lookup of untaken messages: unknown at first, then not taken", func(t *testing.T) {
		fake, p, r, b := setup(t)
		qs := sendUnknown(t, fake, p, b, Answer{HangUntaken: true}, time.Now())
		out, err := resolve(t, r, qs)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		for i, o := range out {
			if o.Class != providers.Unknown {
				t.Errorf("lookup %d right after the send: %s, want unknown (the provider may not list it yet)", i, o.Class)
			}
		}
		for i := range qs {
			qs[i].SentAt = time.Now().Add(-s.NotFoundAfter - time.Minute)
		}
		out, err = resolve(t, r, qs)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		for i, o := range out {
			if o.Class != providers.Retryable {
				t.Errorf("lookup %d well after the send: %s, want retryable (never taken)", i, o.Class)
			}
		}
	})

	t.Run("lookup request fails", func(t *testing.T) {
		fake, p, r, b := setup(t)
		qs := sendUnknown(t, fake, p, b, Answer{Hang: true}, time.Now())
		fake.Next(Answer{LookupStatus: 500})
		if _, err := resolve(t, r, qs); err == nil {
			t.Fatal("Resolve returned no error when the query API answered 500")
		}
	})
}
