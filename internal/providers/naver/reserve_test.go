package naver

import (
	"errors"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

func TestCancelerConformance(t *testing.T) {
	t.Parallel()
	providertest.RunCanceler(t, conformanceSuite())
}

// A reservation NAVER reports SKIP (failed: no service) cannot be
// cancelled; the error names the state.
func TestCancelReservationSkipped(t *testing.T) {
	t.Parallel()
	f := naverfake.New(t)
	c := newTestClient(t, f.URL(), nil)
	j := testJob(2)
	at := time.Now().Add(3 * time.Hour)
	j.ReserveAt = &at
	out, err := c.Send(t.Context(), providertest.Batch(j, 2))
	if err != nil || out[0].Class != providers.Accepted {
		t.Fatalf("send: %v %+v", err, out)
	}
	f.SetReservationState(out[0].RequestID, "SKIP")
	err = c.CancelReservation(t.Context(), j.Kind, out[0].RequestID)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Class != providers.Permanent || pe.Code != "SKIP" {
		t.Fatalf("cancel of a skipped reservation: %v; want Permanent, code SKIP", err)
	}
	if f.Canceled() != 0 {
		t.Errorf("%d cancelled; want none", f.Canceled())
	}
}
