package nhn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// brandSuite runs the conformance suite on Brand Message jobs, ads all,
// with the adapter's clock in the daytime whatever the real hour.
func brandSuite(jobOf func(int) *job.Job) providertest.Suite {
	s := suite(jobOf)
	newProvider := s.NewProvider
	s.NewProvider = func(t *testing.T, f providertest.Fake) providers.Provider {
		p := newProvider(t, f)
		p.(*Client).now = func() time.Time { return daytime }
		return p
	}
	return s
}

func TestConformanceBrandMessage(t *testing.T) {
	t.Parallel()
	providertest.Run(t, brandSuite(func(n int) *job.Job { return providertest.BrandJob(job.BubbleCarouselFeed, n) }))
}

func TestConformanceBrandMessageTemplate(t *testing.T) {
	t.Parallel()
	providertest.Run(t, brandSuite(brandTemplateJob))
}

func brandTemplateJob(n int) *job.Job {
	j := providertest.BrandJob(job.BubbleText, n)
	j.Template, j.Brand = "BM_WINTER_01", &job.Brand{Bubble: job.BubbleText}
	for i := range j.Recipients {
		j.Recipients[i].Variables = map[string]string{"name": "홍길동"}
	}
	return j
}

// Check refuses what the Brand Message API would refuse, with the field
// and the rule; each bubble type's own job passes.
func TestCheckBrand(t *testing.T) {
	t.Parallel()
	night := time.Date(2026, 6, 20, 21, 0, 0, 0, time.FixedZone("KST", 9*3600))
	bm := func(bubble string, mut func(j *job.Job, b *job.Brand, r *job.Recipient)) *job.Job {
		j := providertest.BrandJob(bubble, 1)
		mut(j, j.Brand, &j.Recipients[0])
		return j
	}
	none := func(*job.Job, *job.Brand, *job.Recipient) {}
	in := func(d time.Duration) *time.Time { at := daytime.Add(d); return &at }
	cases := []struct {
		name    string
		job     *job.Job
		now     time.Time
		wantErr string
	}{
		{"template", brandTemplateJob(1), daytime, ""},
		{"reserved 45 days ahead", bm(job.BubbleText, func(j *job.Job, _ *job.Brand, _ *job.Recipient) { j.ReserveAt = in(45 * 24 * time.Hour) }), daytime, ""},
		{"reserved 61 days ahead", bm(job.BubbleText, func(j *job.Job, _ *job.Brand, _ *job.Recipient) { j.ReserveAt = in(61 * 24 * time.Hour) }), daytime, "reserve_at"},
		{"ad night", bm(job.BubbleText, none), night, "20:50-08:00"},
		{"image on text", bm(job.BubbleText, func(_ *job.Job, b *job.Brand, _ *job.Recipient) { b.Image = &job.BrandImage{URL: "https://x/y.jpg"} }), daytime, "brand.image: not part of a TEXT"},
		{"wide without image", bm(job.BubbleWide, func(_ *job.Job, b *job.Brand, _ *job.Recipient) { b.Image = nil }), daytime, "brand.image: required"},
		{"wide content of 77", bm(job.BubbleWide, func(_ *job.Job, b *job.Brand, _ *job.Recipient) { b.Content = strings.Repeat("가", 77) }), daytime, "at most 76"},
		{"text content of 1301", bm(job.BubbleText, func(_ *job.Job, b *job.Brand, _ *job.Recipient) { b.Content = strings.Repeat("가", 1301) }), daytime, "at most 1300"},
		{"wide button name of 9", bm(job.BubbleWide, func(_ *job.Job, b *job.Brand, _ *job.Recipient) { b.Buttons[0].Name = "가나다라마바사아자" }), daytime, "at most 8"},
		{"commerce without button", bm(job.BubbleCommerce, func(_ *job.Job, b *job.Brand, _ *job.Recipient) { b.Buttons = nil }), daytime, "at least 1"},
		{"text with coupon and 5 buttons", bm(job.BubbleText, func(_ *job.Job, b *job.Brand, _ *job.Recipient) {
			b.Buttons = append(b.Buttons, job.Button{Type: "BK", Name: "a"}, job.Button{Type: "BK", Name: "b"}, job.Button{Type: "BK", Name: "c"})
		}), daytime, "at most 4"},
		{"AC with targeting I", bm(job.BubbleText, func(_ *job.Job, b *job.Brand, _ *job.Recipient) {
			b.Buttons = []job.Button{{Type: "AC", Name: "채널 추가"}}
		}), daytime, "targeting M or N"},
		{"AC with targeting M", bm(job.BubbleText, func(_ *job.Job, b *job.Brand, _ *job.Recipient) {
			b.Targeting, b.Buttons = job.TargetingM, []job.Button{{Type: "AC", Name: "채널 추가"}}
		}), daytime, ""},
		{"three items", bm(job.BubbleWideItemList, func(_ *job.Job, b *job.Brand, _ *job.Recipient) { b.Items[2].Title = "" }), daytime, "brand.items[2].title: required"},
		{"one carousel card", bm(job.BubbleCarouselFeed, func(_ *job.Job, b *job.Brand, _ *job.Recipient) { b.Carousel.Cards = b.Carousel.Cards[:1] }), daytime, "1 cards"},
		{"feed card with commerce", bm(job.BubbleCarouselFeed, func(_ *job.Job, b *job.Brand, _ *job.Recipient) {
			b.Carousel.Cards[0].Commerce = &job.Commerce{Title: "x", RegularPrice: new(int64)}
		}), daytime, "carousel commerce cards"},
		{"template with content", bm(job.BubbleText, func(j *job.Job, _ *job.Brand, _ *job.Recipient) { j.Template = "T" }), daytime, "only bubble, targeting and adult"},
		{"recipient content", bm(job.BubbleText, func(_ *job.Job, _ *job.Brand, r *job.Recipient) { r.Content = "hi" }), daytime, "brand.content"},
		{"variables without template", bm(job.BubbleText, func(_ *job.Job, _ *job.Brand, r *job.Recipient) { r.Variables = map[string]string{"a": "b"} }), daytime, "template-based"},
		{"sender key of 41", bm(job.BubbleText, func(j *job.Job, _ *job.Brand, _ *job.Recipient) { j.Sender += "x" }), daytime, "at most 40"},
	}
	for _, bubble := range providertest.BrandBubbles {
		cases = append(cases, struct {
			name    string
			job     *job.Job
			now     time.Time
			wantErr string
		}{bubble, providertest.BrandJob(bubble, 1), daytime, ""})
	}
	for _, tc := range cases {
		c := newTestClient(t, "http://nhn.test")
		c.now = func() time.Time { return tc.now }
		err := c.Check(&providers.Message{Job: tc.job, Recipient: &tc.job.Recipients[0], Attempt: 1})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: Check = %v, want accepted", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: Check = %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
}

// A Brand Message whose answer was lost is looked up in the Brand Message
// list (GET /brand-message/v1.0/.../messages) and found; one that NHN
// never took is, well after the send, found missing and so sent again.
func TestBrandMessageLookup(t *testing.T) {
	t.Parallel()
	f, c, clk := newClocked(t)
	taken := providertest.Batch(providertest.BrandJob(job.BubbleImage, 2), 2)
	f.Next(providertest.Answer{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	_, err := c.Send(ctx, taken)
	cancel()
	last := providers.OutcomeOf(err)
	if last.Class != providers.Unknown {
		t.Fatalf("Send: %+v, want unknown", last)
	}
	out, err := c.Resolve(t.Context(), queries(taken, clk.Now(), last))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	for i, o := range out {
		if o.Class != providers.Accepted || o.Code != "1000" {
			t.Errorf("lookup %d: %+v, want accepted 1000", i, o)
		}
	}

	untaken := providertest.BrandJob(job.BubbleText, 1)
	untaken.ID = "brand-untaken"
	b := providertest.Batch(untaken, 1)
	sentAt := clk.Now()
	clk.Advance(DefaultNotFoundAfter + time.Minute)
	out, err = c.Resolve(t.Context(), queries(b, sentAt, last))
	if err != nil || out[0].Class != providers.Retryable {
		t.Fatalf("lookup of a message NHN never took: %+v, %v; want retryable", out, err)
	}
	for _, p := range f.Paths() {
		if !strings.HasPrefix(p, "/brand-message/v1.0/") {
			t.Errorf("request to %s, want the Brand Message API only", p)
		}
	}
}
