package nhn

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net/http"
	"slices"
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// pngOf is a PNG image of w x h pixels.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wantCode fails unless err is a *providers.Error with this NHN code and class.
func wantCode(t *testing.T, err error, code string, class providers.Class) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *providers.Error with code %s", err, code)
	}
	if pe.Code != code || pe.Class != class {
		t.Fatalf("error code %q class %s, want %q %s (%v)", pe.Code, pe.Class, code, class, err)
	}
	return pe
}

func TestSenderRegistration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())

	cats, err := c.SenderCategories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cats[0].SubCategories[0].SubCategories[0]
	if leaf.Depth != 3 || len(leaf.Code) != 11 {
		t.Fatalf("leaf category %+v, want depth 3 and an 11-character code", leaf)
	}
	if err := c.RegisterSender(ctx, "@shop", "01012345678", leaf.Code); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.RegisterSender(ctx, "@shop", "01012345678", leaf.Code), "-4019", providers.Permanent)
	wantCode(t, c.RegisterSender(ctx, "@x", "010-1234", leaf.Code), "", providers.Permanent) // refused before sending

	page, err := c.Senders(ctx, SenderFilter{PlusFriendID: "@shop"})
	if err != nil || len(page.Senders) != 1 {
		t.Fatalf("Senders = %+v, %v; want the new sender", page, err)
	}
	s := page.Senders[0]
	if s.Status != SenderAwaitingToken || s.Usable() == "" {
		t.Fatalf("new sender %+v: want YSC02 and not usable", s)
	}
	wantCode(t, c.VerifySenderToken(ctx, "@shop", 1), "-4019", providers.Permanent)
	fs, _ := f.SenderOf("@shop")
	if err := c.VerifySenderToken(ctx, "@shop", fs.Token); err != nil {
		t.Fatal(err)
	}
	got, err := c.Sender(ctx, s.SenderKey)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != SenderRegistered || got.KakaoStatus != KakaoStatusActive || got.Usable() != "" {
		t.Fatalf("verified sender %+v: want YSC03, A and usable", got)
	}
	if err := c.DeleteSender(ctx, s.SenderKey); err != nil {
		t.Fatal(err)
	}
	_, err = c.Sender(ctx, s.SenderKey)
	wantCode(t, err, "-2017", providers.Permanent)
	wantCode(t, c.DeleteSender(ctx, s.SenderKey), "-2017", providers.Permanent)
}

func TestSenderStateAndPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())
	for _, s := range []nhnfake.Sender{
		{PlusFriendID: "@a", SenderKey: "key-a", AlimTalkDailyMax: 100, AlimTalkSent: 40},
		{PlusFriendID: "@b", SenderKey: "key-b", Dormant: true},
		{PlusFriendID: "@c", SenderKey: "key-c", Block: true, KakaoStatus: "S", KakaoProfileStatus: "B"},
	} {
		f.AddSender(s)
	}
	a, err := c.Sender(ctx, "key-a")
	if err != nil {
		t.Fatal(err)
	}
	if a.AlimTalk == nil || a.AlimTalk.DailyMaxCount != 100 || a.AlimTalk.SentCount != 40 {
		t.Fatalf("alimtalk settings %+v, want dailyMaxCount 100 sentCount 40", a.AlimTalk)
	}
	for key, want := range map[string]string{"key-a": "", "key-b": "sender is dormant", "key-c": "sender is blocked"} {
		s, err := c.Sender(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Usable(); got != want {
			t.Errorf("%s: Usable() = %q, want %q", key, got, want)
		}
	}
	var keys []string
	for n := 1; ; n++ {
		p, err := c.Senders(ctx, SenderFilter{PageNum: n, PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		if p.TotalCount != 3 {
			t.Fatalf("totalCount %d, want 3", p.TotalCount)
		}
		if len(p.Senders) == 0 {
			break
		}
		for _, s := range p.Senders {
			keys = append(keys, s.SenderKey)
		}
	}
	if !slices.Equal(keys, []string{"key-a", "key-b", "key-c"}) {
		t.Fatalf("paged keys %v", keys)
	}
	if _, err := c.Senders(ctx, SenderFilter{PageSize: MaxSenderPageSize + 1}); err == nil {
		t.Fatal("pageSize over the maximum was sent")
	}
}

func TestSenderGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())
	f.AddSender(nhnfake.Sender{PlusFriendID: "@a", SenderKey: "key-a"})
	f.AddGroup("group-1", "shops")

	if err := c.AddGroupSender(ctx, "group-1", "key-a"); err != nil {
		t.Fatal(err)
	}
	g, err := c.SenderGroup(ctx, "group-1")
	if err != nil {
		t.Fatal(err)
	}
	if g.GroupName != "shops" || len(g.Senders) != 1 || g.Senders[0].SenderKey != "key-a" {
		t.Fatalf("group %+v, want shops with key-a", g)
	}
	wantCode(t, c.AddGroupSender(ctx, "group-1", "key-a"), "-4019", providers.Permanent)
	if err := c.RemoveGroupSender(ctx, "group-1", "key-a"); err != nil {
		t.Fatal(err)
	}
	if m := f.GroupMembers("group-1"); len(m) != 0 {
		t.Fatalf("members after remove: %v", m)
	}
	wantCode(t, c.RemoveGroupSender(ctx, "group-1", "key-a"), "-2017", providers.Permanent)
	_, err = c.SenderGroup(ctx, "nope")
	wantCode(t, err, "-2017", providers.Permanent)
}

func TestImages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())

	im, err := c.UploadImage(ctx, "dir/square.png", pngOf(t, 720, 720), false)
	if err != nil {
		t.Fatal(err)
	}
	if im.ImageSeq != 1 || im.ImageURL == "" || im.ImageName != "square.png" {
		t.Fatalf("uploaded %+v", im)
	}
	if _, err := c.UploadImage(ctx, "wide.png", pngOf(t, 800, 600), true); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		data []byte
		wide bool
	}{
		"narrow":       {pngOf(t, 400, 400), false},
		"too tall":     {pngOf(t, 600, 900), false},
		"too flat":     {pngOf(t, 1000, 400), false},
		"wide not 4:3": {pngOf(t, 800, 800), true},
		"not an image": {[]byte("GIF89a not really"), false},
		"too large":    {make([]byte, MaxImageBytes+1), false},
	} {
		_, err := c.UploadImage(ctx, name, tc.data, tc.wide)
		pe := wantCode(t, err, "", providers.Permanent)
		if pe.Reason != result.ReasonInvalidJob {
			t.Errorf("%s: reason %s", name, pe.Reason)
		}
	}
	if n := len(f.Images()); n != 2 {
		t.Fatalf("fake holds %d images, want 2: a refused image reached it", n)
	}
	p, err := c.Images(ctx, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.TotalCount != 2 || len(p.Images) != 1 || p.Images[0].ImageSeq != 2 || !bool(p.Images[0].Wide) {
		t.Fatalf("first page %+v, want the wide image (latest first) of 2", p)
	}
	if err := c.DeleteImages(ctx, []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DeleteImages(ctx, []int64{1}), "-2000", providers.Permanent)
}

func TestFallbackSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := nhnfake.New(t)
	c := newTestClient(t, f.URL())
	f.AddSender(nhnfake.Sender{PlusFriendID: "@a", SenderKey: "key-a"})

	if err := c.SetFallback(ctx, Fallback{PlusFriendID: "@a", IsResend: true, ResendSendNo: "0212345678",
		ResendUnsubscribeNo: "0801234567"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.FallbackOf(ctx, "@a")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Fallback{PlusFriendID: "@a", IsResend: true, ResendSendNo: "0212345678", ResendUnsubscribeNo: "0801234567"}); *got != want {
		t.Fatalf("fallback %+v, want %+v", *got, want)
	}
	if err := c.SetFallbackAppKey(ctx, "smsAppKey"); err != nil || f.SMSAppKey() != "smsAppKey" {
		t.Fatalf("SetFallbackAppKey: %v, fake holds %q", err, f.SMSAppKey())
	}
	wantCode(t, c.SetFallback(ctx, Fallback{PlusFriendID: "@nope", ResendSendNo: "0212345678"}), "-2017", providers.Permanent)
	_, err = c.FallbackOf(ctx, "@nope")
	wantCode(t, err, "-2017", providers.Permanent)
	if err := c.SetFallback(ctx, Fallback{PlusFriendID: "@a", ResendSendNo: "02-1234"}); err == nil {
		t.Fatal("a resendSendNo with a dash was sent")
	}
}

func TestAdminFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := nhnfake.New(t)
	f.AddSender(nhnfake.Sender{PlusFriendID: "@a", SenderKey: "key-a"})

	spec := testSpec(f.URL())
	spec.Credentials = map[string]string{SecretKeyCredential: "wrong"}
	p, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.(*Client).Sender(ctx, "key-a")
	if pe := wantCode(t, err, "-1001", providers.Permanent); pe.Reason != result.ReasonAuth {
		t.Fatalf("wrong secret: reason %s, want auth", pe.Reason)
	}

	c := newTestClient(t, f.URL())
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusTooManyRequests} {
		f.NextAdminStatus(status)
		_, err := c.Sender(ctx, "key-a")
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.HTTPStatus != status || pe.Class != providers.Retryable {
			t.Fatalf("HTTP %d: %v, want a retryable error with the status", status, err)
		}
	}
}

// FuzzParseAdminAnswer feeds arbitrary administration answers to the
// parser: no panic; an error is a classified *providers.Error, and a
// failed header never reads as success.
func FuzzParseAdminAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"sender":{"plusFriendId":"@a","senderKey":"k","status":"YSC03","dormant":false,"block":true,"alimtalk":{"dailyMaxCount":10,"sentCount":3}}}`,
		`{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`,
		`{"header":{"resultCode":0,"isSuccessful":false}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"imagesResponse":{"images":[{"imageSeq":1,"wide":"true"}],"totalCount":1}}`,
		`<html>502</html>`, `{"header":null}`, `null`, ``, `{"sender":[]}`,
	} {
		f.Add(200, []byte(seed))
	}
	f.Fuzz(func(t *testing.T, status int, data []byte) {
		var out struct {
			Sender *Sender      `json:"sender"`
			Images *ImagePage   `json:"imagesResponse"`
			Cats   []Category   `json:"categories"`
			Group  *SenderGroup `json:"senderGroup"`
		}
		err := parseAdminAnswer(status, data, &out)
		if err == nil {
			if status/100 != 2 {
				t.Fatalf("HTTP %d read as success", status)
			}
			return
		}
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Class < providers.Retryable || pe.Class > providers.Unknown {
			t.Fatalf("error %v is not a classified *providers.Error", err)
		}
	})
}

func TestPreflightConformance(t *testing.T) {
	t.Parallel()
	providertest.PreflightSuite{
		New: func(t *testing.T) (providers.Preflighter, providers.Preflighter, func()) {
			f := nhnfake.New(t)
			f.AddSender(nhnfake.Sender{PlusFriendID: "@ok", SenderKey: "key-ok", AlimTalkDailyMax: 10, AlimTalkSent: 3})
			f.AddSender(nhnfake.Sender{PlusFriendID: "@zz", SenderKey: "key-zz", Dormant: true})
			spec := testSpec(f.URL())
			spec.Credentials = map[string]string{SecretKeyCredential: "refused"}
			refused, err := New(spec)
			if err != nil {
				t.Fatal(err)
			}
			return newTestClient(t, f.URL()), refused.(*Client), func() { f.NextAdminStatus(http.StatusInternalServerError) }
		},
		Usable: "key-ok", Unusable: "key-zz", Missing: "key-none",
	}.Run(t)
}
