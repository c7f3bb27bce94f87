package decide

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
)

func TestQuotaDay(t *testing.T) {
	t.Parallel()
	kst := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, msgcheck.KST) }
	for _, tc := range []struct{ at, want time.Time }{
		{kst(30, 0, 0), kst(31, 0, 0)}, // the day just began: the next one
		{kst(30, 23, 59), kst(31, 0, 0)},
		{time.Date(2026, 11, 30, 15, 30, 0, 0, time.UTC), kst(32, 0, 0)}, // 00:30 KST on the 1st
	} {
		if got := QuotaDay(tc.at); !got.Equal(tc.want) {
			t.Errorf("QuotaDay(%s) = %s, want %s", tc.at, got, tc.want)
		}
	}
}

func TestUntilQuotaDay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 15, 0, 0, 0, msgcheck.KST)
	p := &retry.Pending{}
	if d := UntilQuotaDay(p, &job.Job{}, now); d.Verdict != retry.Again || !d.Due.Equal(QuotaDay(now)) {
		t.Fatalf("no deadline: %+v, want Again at 00:00 KST", d)
	}
	early := now.Add(time.Hour)
	d := UntilQuotaDay(p, &job.Job{Deadline: &early}, now)
	if d.Verdict != retry.Final || d.Status != result.Failed || d.Outcome.EffectiveReason() != result.ReasonDeadlineExceeded {
		t.Fatalf("deadline first: %+v, want failed deadline_exceeded now", d)
	}
}
