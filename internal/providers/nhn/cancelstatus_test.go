package nhn

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// TestCancelledReservationIsCanceled: NHN lists a reservation cancelled
// with DELETE …/messages/{requestId} as messageStatus CANCEL, by the time
// of the cancel. A lookup reads it as cancelled — Permanent with reason
// canceled, never sent and never to be, so not sent again — and the result
// updates of the cancel's minute list it as a report of the cancellation:
// failed, code CANCEL, marked Canceled.
func TestCancelledReservationIsCanceled(t *testing.T) {
	t.Parallel()
	_, c, clk := newClocked(t)
	j := alimTalkJob(2)
	at := daytime.Add(2 * time.Hour)
	j.ReserveAt = &at
	b := providertest.Batch(j, 2)
	sent, err := c.Send(t.Context(), b)
	if err != nil || sent[0].Class != providers.Accepted {
		t.Fatalf("Send: %v %+v", err, sent)
	}
	clk.Advance(10 * time.Minute)
	if err := c.CancelReservation(t.Context(), job.AlimTalk, sent[0].RequestID); err != nil {
		t.Fatalf("CancelReservation: %v", err)
	}
	out, err := c.Resolve(t.Context(), queries(b, daytime, providers.Outcome{Class: providers.Unknown}))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	for i, o := range out {
		if o.Class != providers.Permanent || o.Reason != result.ReasonCanceled || o.Code != statusCancel || o.RequestID != sent[0].RequestID {
			t.Errorf("lookup of recipient %d: %+v; want permanent, reason canceled, code CANCEL, its request id", i, o)
		}
	}
	from := clk.Now().Truncate(time.Minute)
	page, err := c.ReportPage(t.Context(), job.AlimTalk, from, from.Add(time.Minute), 1, 10)
	if err != nil {
		t.Fatalf("ReportPage: %v", err)
	}
	if page.Listed != 2 || len(page.Reports) != 2 {
		t.Fatalf("the cancel's minute: %d listed, %d reports; want both recipients reported", page.Listed, len(page.Reports))
	}
	for _, rep := range page.Reports {
		if rep.JobID != j.ID || !rep.Canceled || rep.State != providers.ReportFailed || rep.Code != statusCancel {
			t.Errorf("report %+v; want failed, code CANCEL, marked Canceled", rep)
		}
	}
}
