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

// FuzzParseReservation: the reservation status answer is untrusted; what
// parses has a state.
func FuzzParseReservation(f *testing.F) {
	f.Add([]byte(`{"reserveId":"RQ-1","reserveTime":"2026-12-01T09:00:00+09:00","reserveTimeZone":"Asia/Seoul","reserveStatus":"SKIP"}`))
	f.Add([]byte(`{"reserveStatus":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if r, err := parseReservation(body); err == nil && r.ReserveStatus == "" {
			t.Fatalf("%q parsed without a state", body)
		}
	})
}
