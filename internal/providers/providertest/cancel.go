package providertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// CancelFake is a Fake that also serves the provider's reservation cancel.
type CancelFake interface {
	Fake
	// Canceled counts the messages whose reservation was cancelled.
	Canceled() int
}

// RunCanceler is the conformance suite of a providers.ReservationCanceler:
// a reserved request is cancelled whole, cancelling it again succeeds, and
// a request already sent or unknown to the provider is refused with a
// Permanent *providers.Error.
func RunCanceler(t *testing.T, s Suite) {
	t.Helper()
	setup := func(t *testing.T, reserveAt *time.Time) (CancelFake, providers.ReservationCanceler, string) {
		fake, ok := s.NewFake(t).(CancelFake)
		if !ok {
			t.Fatal("the fake does not serve reservation cancels (CancelFake)")
		}
		p := s.NewProvider(t, fake)
		canceler, ok := p.(providers.ReservationCanceler)
		if !ok {
			t.Fatal("the adapter is not a providers.ReservationCanceler")
		}
		j := s.Job(min(p.MaxBatch(), 3))
		j.ReserveAt = reserveAt
		for i := range j.Recipients {
			if err := p.Check(&providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1}); err != nil {
				t.Fatalf("suite job recipient %d fails Check: %v", i, err)
			}
		}
		out, err := p.Send(t.Context(), Batch(j, len(j.Recipients)))
		if err != nil || len(out) == 0 || out[0].Class != providers.Accepted || out[0].RequestID == "" {
			t.Fatalf("send: %v %+v; want accepted with a request id", err, out)
		}
		return fake, canceler, out[0].RequestID
	}
	cancel := func(t *testing.T, c providers.ReservationCanceler, requestID string) error {
		ctx, done := context.WithTimeout(t.Context(), 10*time.Second)
		defer done()
		return c.CancelReservation(ctx, s.Job(1).Kind, requestID)
	}
	refused := func(t *testing.T, err error, what string) {
		t.Helper()
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Class != providers.Permanent {
			t.Errorf("cancel of %s: %v; want a Permanent *providers.Error", what, err)
		}
	}

	t.Run("reservation cancelled whole, twice", func(t *testing.T) {
		t.Parallel()
		at := time.Now().Add(2 * time.Hour)
		fake, c, id := setup(t, &at)
		if err := cancel(t, c, id); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		n := fake.Canceled()
		if n == 0 {
			t.Fatal("the fake cancelled nothing")
		}
		if err := cancel(t, c, id); err != nil {
			t.Errorf("second cancel: %v; want success (cancelled already)", err)
		}
		if fake.Canceled() != n {
			t.Errorf("second cancel changed the count: %d, want %d", fake.Canceled(), n)
		}
	})
	t.Run("sent request refused", func(t *testing.T) {
		t.Parallel()
		fake, c, id := setup(t, nil)
		refused(t, cancel(t, c, id), "a request sent at once")
		if fake.Canceled() != 0 {
			t.Errorf("%d messages cancelled; want none", fake.Canceled())
		}
	})
	t.Run("unknown request refused", func(t *testing.T) {
		t.Parallel()
		_, c, _ := setup(t, nil)
		refused(t, cancel(t, c, "no-such-request"), "an unknown request")
	})
}
