package providertest

import (
	"context"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// RunReporter runs the conformance checks of a provider's delivery
// reports, whichever of providers.WindowReporter, RequestReporter or
// QueueReporter it implements.
func RunReporter(t *testing.T, s Suite) {
	t.Helper()
	switch s.NewProvider(t, s.NewFake(t)).(type) {
	case providers.WindowReporter:
		runWindowReporter(t, s)
	case providers.RequestReporter:
		runRequestReporter(t, s)
	case providers.QueueReporter:
		runQueueReporter(t, s)
	default:
		t.Fatal("the provider gives no delivery reports")
	}
}

// runWindowReporter: every message the fake took is listed once across
// the pages of a window that holds its sends, delivered and correlated to
// its job and recipient, and a listing the provider fails is an error,
// never an empty page.
func runWindowReporter(t *testing.T, s Suite) {
	t.Helper()
	setup := func(t *testing.T) (Fake, providers.WindowReporter, *providers.Batch, time.Time, time.Time) {
		fake := s.NewFake(t)
		p := s.NewProvider(t, fake)
		r, ok := p.(providers.WindowReporter)
		if !ok {
			t.Fatal("the provider is not a providers.WindowReporter")
		}
		res, _, _ := r.ReportLimits()
		n := min(p.MaxBatch(), 7)
		b := Batch(s.Job(n), n)
		from := time.Now().Truncate(res).Add(-res)
		out, err := p.Send(t.Context(), b)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		for i, o := range out {
			if o.Class != providers.Accepted {
				t.Fatalf("message %d: %s, want accepted", i, o.Class)
			}
		}
		return fake, r, b, from, time.Now().Truncate(res).Add(2 * res)
	}

	t.Run("each message taken is listed once, delivered, across pages", func(t *testing.T) {
		_, r, b, from, to := setup(t)
		kind := b.Key.Kind
		seen := map[int]bool{}
		listed, total := 0, -1
		for page := 1; total < 0 || listed < total; page++ {
			if page > 10 {
				t.Fatalf("still listing after %d pages (%d of %d)", page-1, listed, total)
			}
			p, err := r.ReportPage(t.Context(), kind, from, to, page, 3)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if p.Listed > 3 || len(p.Reports)+p.Skipped != p.Listed || (total >= 0 && p.Total != total) {
				t.Fatalf("page %d: %d listed (%d reports, %d skipped) of %d; want at most 3, reports and skipped adding up, the same total", page, p.Listed, len(p.Reports), p.Skipped, p.Total)
			}
			total, listed = p.Total, listed+p.Listed
			for _, rep := range p.Reports {
				if rep.JobID != b.Messages[0].Job.ID || rep.Index < 0 || rep.Index >= len(b.Messages) || seen[rep.Index] {
					t.Fatalf("report of %s/%d: not one of the batch's, or twice", rep.JobID, rep.Index)
				}
				if rep.State != providers.ReportDelivered {
					t.Errorf("report of recipient %d: %s, want delivered", rep.Index, rep.State)
				}
				seen[rep.Index] = true
			}
		}
		if len(seen) != len(b.Messages) {
			t.Errorf("%d of %d messages reported", len(seen), len(b.Messages))
		}
	})

	t.Run("a window before the sends lists none of them", func(t *testing.T) {
		_, r, b, from, _ := setup(t)
		res, _, _ := r.ReportLimits()
		p, err := r.ReportPage(t.Context(), b.Key.Kind, from.Add(-10*res), from.Add(-5*res), 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Reports) != 0 {
			t.Errorf("%d reports of messages sent after the window", len(p.Reports))
		}
	})

	t.Run("a failed listing is an error", func(t *testing.T) {
		fake, r, b, from, to := setup(t)
		fake.Next(Answer{LookupStatus: 503})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if p, err := r.ReportPage(ctx, b.Key.Kind, from, to, 1, 3); err == nil {
			t.Fatalf("listing answered 503: %+v, want an error", p)
		}
	})
}
