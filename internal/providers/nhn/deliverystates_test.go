package nhn

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// TestResultUpdatesFollowTheDeliveryStates: messages the fake takes go
// through the states NHN's documents give, each listed by the minute of its
// latest change: pending (no result code) and the non-terminal ones (3005,
// a fallback due or sending) are skipped, and each message is reported
// once it is terminal: delivered (also after 3005), failed, fallback_sent,
// fallback_failed.
func TestResultUpdatesFollowTheDeliveryStates(t *testing.T) {
	t.Parallel()
	clk := providertest.NewClock(daytime.Truncate(time.Minute).Add(10 * time.Second))
	f := nhnfake.New(t, nhnfake.WithClock(clk.Now), nhnfake.WithDeliveryStep(20*time.Second))
	c := newTestClient(t, f.URL())
	c.now = clk.Now
	j := alimTalkJob(5)
	want := []string{providers.ReportDelivered, providers.ReportDelivered, providers.ReportFailed, providers.ReportFallbackSent, providers.ReportFallbackFailed}
	f.FailDelivery(j.Recipients[1].Phone, "3005", nhnfake.NoFallback)
	f.FailDelivery(j.Recipients[2].Phone, "3018", nhnfake.NoFallback)
	f.FailDelivery(j.Recipients[3].Phone, "3015", nhnfake.FallbackSent)
	f.FailDelivery(j.Recipients[4].Phone, "3015", nhnfake.FallbackFailed)
	if _, err := c.Send(t.Context(), providertest.Batch(j, 5)); err != nil {
		t.Fatal(err)
	}
	start := clk.Now().Truncate(time.Minute)
	reported := map[int]string{}
	// Steps come 20 s apart: the last (a fallback's outcome) a minute after
	// the send, in the next minute's updates.
	for minute := range 3 {
		clk.Set(start.Add(time.Duration(minute+1) * time.Minute))
		from := start.Add(time.Duration(minute) * time.Minute)
		page, err := c.ReportPage(t.Context(), job.AlimTalk, from, from.Add(time.Minute), 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, rep := range page.Reports {
			if reported[rep.Index] != "" {
				t.Errorf("recipient %d reported twice", rep.Index)
			}
			reported[rep.Index] = rep.State
		}
		if minute == 0 && (len(page.Reports) != 3 || page.Skipped != 2) {
			t.Errorf("minute 0: %d reports, %d skipped; want the delivered, failed and 3005-then-delivered ones, and the fallbacks still sending skipped", len(page.Reports), page.Skipped)
		}
	}
	for i, w := range want {
		if reported[i] != w {
			t.Errorf("recipient %d reported %q, want %q", i, reported[i], w)
		}
	}
}
