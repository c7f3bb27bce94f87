package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs every profile at a tiny size through the real
// harness: server, fake provider, worker subprocess, ceiling. It checks
// that every recipient got an accepted result and that the table prints;
// it never checks speed.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the worker: not with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, progress strings.Builder
	rows, err := Run(ctx, Config{Scale: 0.002, WorkDir: t.TempDir(), Out: &out, Progress: &progress})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	if len(rows) != 5 {
		t.Fatalf("got %d rows, want 5 (single, campaign, latency, two backlogs)", len(rows))
	}
	for _, r := range rows {
		if r.Results != r.Recipients || r.NotOK != 0 {
			t.Errorf("%s: %d results (%d not accepted) for %d recipients", r.Name, r.Results, r.NotOK, r.Recipients)
		}
		if r.FakeRecips != int64(r.Recipients) {
			t.Errorf("%s: the fake provider saw %d recipients, want %d", r.Name, r.FakeRecips, r.Recipients)
		}
		if r.PeakRSS <= 0 || r.Elapsed <= 0 {
			t.Errorf("%s: peak RSS %d, elapsed %s: not measured", r.Name, r.PeakRSS, r.Elapsed)
		}
		if (r.Name == Single || r.Name == Campaign) && (r.Ceiling == nil || r.Ceiling.Results != r.Recipients) {
			t.Errorf("%s: ceiling %+v, want %d results", r.Name, r.Ceiling, r.Recipients)
		}
		if r.Name == Latency && (r.Rate == nil || r.Requests != int64(r.Recipients)) {
			t.Errorf("latency: %d requests for %d recipients, rate %+v", r.Requests, r.Recipients, r.Rate)
		}
	}
	if !strings.Contains(out.String(), "recipients/s") {
		t.Errorf("no table:\n%s", out.String())
	}
	t.Log("\n" + out.String())
}

func TestFakeRate(t *testing.T) {
	t.Parallel()
	f := &Fake{}
	base := time.Now().UnixNano()
	for i := range 5 {
		f.times = append(f.times, base+int64(i)*int64(250*time.Millisecond)) // 4/s
	}
	r := f.Rate()
	if r.MaxInWindow != 4 || r.Achieved < 3.99 || r.Achieved > 4.01 {
		t.Errorf("rate %+v, want 4/s and at most 4 in a window", r)
	}
}

func TestPubTime(t *testing.T) {
	t.Parallel()
	w := workload{prefix: "x", account: "a", jobs: 1, recipients: 2}
	data := w.build(0, w.recipientsJSON(0), 1234567890123)
	if n, ok := pubTime(data); !ok || n != 1234567890123 {
		t.Errorf("pubTime = %d, %v", n, ok)
	}
}
