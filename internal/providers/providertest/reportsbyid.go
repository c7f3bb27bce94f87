package providertest

import (
	"context"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// sendAccepted sends the first n recipients of the suite's job, one batch
// of at most the provider's MaxBatch at a time, and returns the outcomes,
// each accepted.
func sendAccepted(t *testing.T, s Suite, p providers.Provider, n int) []providers.Outcome {
	t.Helper()
	j := s.Job(n)
	var out []providers.Outcome
	for from := 0; from < n; from += p.MaxBatch() {
		b := Batch(j, min(n, from+p.MaxBatch()))
		b.Messages = b.Messages[from:]
		got, err := p.Send(t.Context(), b)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		for i, o := range got {
			if o.Class != providers.Accepted {
				t.Fatalf("message %d: %s, want accepted", from+i, o.Class)
			}
		}
		out = append(out, got...)
	}
	return out
}

// eventually retries f until it says done, for at most 30s: a fake may
// report a message as processing for a moment first.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runRequestReporter: every message of a request the fake took is
// reported once, delivered, by its message id once it is terminal, and a
// request query the provider fails is an error.
func runRequestReporter(t *testing.T, s Suite) {
	t.Helper()
	fake := s.NewFake(t)
	p := s.NewProvider(t, fake)
	r := p.(providers.RequestReporter)
	out := sendAccepted(t, s, p, min(p.MaxBatch(), 7))
	ids := map[string]bool{}
	for _, o := range out {
		if o.RequestID != out[0].RequestID || o.MessageID == "" {
			t.Fatalf("outcome %+v: want the batch's request id and a message id", o)
		}
		ids[o.MessageID] = true
	}
	eventually(t, "every message reported", func() bool {
		reps, err := r.RequestReports(t.Context(), out[0].RequestID)
		if err != nil {
			t.Fatalf("RequestReports: %v", err)
		}
		seen := map[string]bool{}
		for _, rep := range reps {
			if !ids[rep.MessageID] || seen[rep.MessageID] || rep.State != providers.ReportDelivered {
				t.Fatalf("report %+v: not one of the request's, twice, or not delivered", rep)
			}
			seen[rep.MessageID] = true
		}
		return len(seen) == len(ids)
	})
	fake.Next(Answer{LookupStatus: 503})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if reps, err := r.RequestReports(ctx, out[0].RequestID); err == nil {
		t.Fatalf("request query answered 503: %+v, want an error", reps)
	}
}

// runQueueReporter: the messages the fake took are handed out, delivered
// and correlated to their job and recipient, again until the batch is
// completed and never after; a poll the provider fails is an error.
func runQueueReporter(t *testing.T, s Suite) {
	t.Helper()
	fake := s.NewFake(t)
	p := s.NewProvider(t, fake)
	r := p.(providers.QueueReporter)
	const n = 3
	sendAccepted(t, s, p, n)
	j := s.Job(n)
	var batch *providers.ReportBatch
	eventually(t, "every message handed out", func() bool {
		b, err := r.NextReports(t.Context())
		if err != nil {
			t.Fatalf("NextReports: %v", err)
		}
		batch = b
		return len(b.Reports) == n
	})
	seen := map[int]bool{}
	for _, rep := range batch.Reports {
		if rep.JobID != j.ID || rep.Index < 0 || rep.Index >= n || seen[rep.Index] || rep.State != providers.ReportDelivered {
			t.Fatalf("report of %s/%d (%s): not one of the job's, twice, or not delivered", rep.JobID, rep.Index, rep.State)
		}
		seen[rep.Index] = true
	}
	again, err := r.NextReports(t.Context())
	if err != nil || len(again.Reports) != n {
		t.Fatalf("before completion: %v, %d reports; want the same %d again", err, len(again.Reports), n)
	}
	if err := r.CompleteReports(t.Context(), again.Group); err != nil {
		t.Fatalf("CompleteReports: %v", err)
	}
	if after, err := r.NextReports(t.Context()); err != nil || after.Listed != 0 {
		t.Fatalf("after completion: %v, %+v; want nothing", err, after)
	}
	fake.Next(Answer{LookupStatus: 503})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if b, err := r.NextReports(ctx); err == nil {
		t.Fatalf("poll answered 503: %+v, want an error", b)
	}
}

// KnownState fails t unless rep is in one of the terminal report states
// (for the fuzz tests of the report parsers).
func KnownState(t testing.TB, rep providers.Report) {
	t.Helper()
	switch rep.State {
	case providers.ReportDelivered, providers.ReportFailed, providers.ReportFallbackSent, providers.ReportFallbackFailed:
	default:
		t.Fatalf("report %+v: state %q", rep, rep.State)
	}
}
