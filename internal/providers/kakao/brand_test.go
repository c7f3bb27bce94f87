package kakao

import (
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// Every bubble type goes to /v2/send/kakao/ftupgrade with its
// message_type, as in testdata/brand_<bubble>.json, and passes the fake.
func TestGoldenBrandBodies(t *testing.T) {
	t.Parallel()
	for _, bubble := range providertest.BrandBubbles {
		t.Run(bubble, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, newClock())
			c := newTestClient(t, f, nil)
			j := providertest.BrandJob(bubble, 1)
			m := providers.Message{Job: j, Recipient: &j.Recipients[0], Attempt: 1}
			if err := c.Check(&m); err != nil {
				t.Fatalf("Check: %v", err)
			}
			out, err := c.Send(t.Context(), providertest.Batch(j, 1))
			if err != nil || out[0].Class != providers.Accepted {
				t.Fatalf("Send = %+v, %v", out, err)
			}
			if p := kakaofake.BrandBreaches(f.LastBody()); len(p) > 0 {
				t.Errorf("fake rules: %v", p)
			}
			checkGolden(t, "brand_"+strings.ToLower(bubble), f.LastBody())
		})
	}
}

func TestConformanceBrandMessage(t *testing.T) {
	t.Parallel()
	providertest.Run(t, suite(func(n int) *job.Job { return providertest.BrandJob(job.BubbleWideItemList, n) }))
}

// Check refuses what this adapter cannot send through ftupgrade, and the
// ad night, with a plain reason.
func TestCheckBrand(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	night := time.Date(2026, 11, 10, 21, 0, 0, 0, msgcheck.KST)
	for _, tc := range []struct {
		name    string
		edit    func(j *job.Job)
		now     time.Time
		wantErr string
	}{
		{"text", func(*job.Job) {}, time.Time{}, ""},
		{"template", func(j *job.Job) { j.Template, j.Brand = "T1", &job.Brand{Bubble: job.BubbleText} }, time.Time{}, "template-based"},
		{"adult", func(j *job.Job) { j.Brand.Adult = true }, time.Time{}, "adult"},
		{"reserved", func(j *job.Job) { at := time.Now().Add(time.Hour); j.ReserveAt = &at }, time.Time{}, "reserve_at"},
		{"recipient content", func(j *job.Job) { j.Recipients[0].Content = "x" }, time.Time{}, "brand object"},
		{"night", func(*job.Job) {}, night, "20:50-08:00"},
		{"fallback without text", func(j *job.Job) {
			j.Brand = providertest.BrandJob(job.BubbleCarouselFeed, 1).Brand
			j.Failover.Content = ""
		}, time.Time{}, "failover.content"},
		{"bubble rule", func(j *job.Job) { j.Brand.Content = strings.Repeat("가", 1301) }, time.Time{}, "at most 1300"},
	} {
		j := providertest.BrandJob(job.BubbleText, 1)
		tc.edit(j)
		c := newTestClient(t, f, nil)
		if !tc.now.IsZero() {
			c.now = func() time.Time { return tc.now }
		}
		err := c.Check(&providers.Message{Job: j, Recipient: &j.Recipients[0], Attempt: 1})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: Check = %v, want accepted", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: Check = %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
}
