package naver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
)

func TestChannels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := naverfake.New(t)
	for i := range 150 { // two pages
		f.AddChannel(naverfake.Channel{ChannelID: fmt.Sprintf("@ch%03d", i), ChannelName: "shop"})
	}
	f.AddChannel(naverfake.Channel{ChannelID: "@blocked", Status: "BLOCKED", IsBlock: true})
	f.AddChannel(naverfake.Channel{ChannelID: "@dormant", IsDormant: true})
	f.AddChannel(naverfake.Channel{ChannelID: "@deleted", Status: "DELETED"})
	c := newTestClient(t, f.URL(), nil)

	all, err := c.Channels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 153 {
		t.Fatalf("%d channels, want 153", len(all))
	}
	if q := f.AdminQueries(); len(q) != 2 || q[1].Get("pageIndex") != "1" || q[1].Get("pageSize") != "100" {
		t.Fatalf("queries %v, want pageIndex 0 and 1 of 100", q)
	}
	for id, want := range map[string]string{"@ch007": "", "@blocked": "channel is blocked",
		"@dormant": "channel is dormant", "@deleted": "channel status is DELETED"} {
		ch, err := c.Channel(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := ch.Usable(); got != want {
			t.Errorf("%s: Usable() = %q, want %q", id, got, want)
		}
	}
	if _, err := c.Channel(ctx, "@nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown channel: %v, want ErrNotFound", err)
	}
}

func TestTemplates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := naverfake.New(t)
	f.AddTemplate(naverfake.Template{ChannelID: "@shop", Code: "order_v1", Name: "order shipped",
		Content: "#{name}, your order shipped", Buttons: [][2]string{{"DS", "배송 조회"}}, Comment: "approved"})
	f.AddTemplate(naverfake.Template{ChannelID: "@shop", Code: "promo", Name: "promo", InspectionStatus: "REJECT",
		Status: "READY", Comment: "ad content in an AlimTalk"})
	f.AddTemplate(naverfake.Template{ChannelID: "@shop", Code: "stopped", Name: "stopped", Status: "STOP"})
	f.AddTemplate(naverfake.Template{ChannelID: "@other", Code: "x", Name: "order other"})
	c := newTestClient(t, f.URL(), nil)

	list, err := c.Templates(ctx, "@shop", "order")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].TemplateCode != "order_v1" || len(list[0].Comments) != 0 {
		t.Fatalf("templates named like order: %+v, want order_v1 without comments", list)
	}
	tpl, err := c.Template(ctx, "@shop", "order_v1")
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Usable() != "" || len(tpl.Buttons) != 1 || tpl.Buttons[0].Type != "DS" || tpl.Buttons[0].Order != 1 ||
		len(tpl.Comments) != 1 || tpl.Comments[0].Status != "APR" {
		t.Fatalf("order_v1 details %+v", tpl)
	}
	for code, want := range map[string]string{"promo": "template is not approved (inspection REJECT)",
		"stopped": "template status is STOP"} {
		tpl, err := c.Template(ctx, "@shop", code)
		if err != nil {
			t.Fatal(err)
		}
		if got := tpl.Usable(); got != want {
			t.Errorf("%s: Usable() = %q, want %q", code, got, want)
		}
	}
	if _, err := c.Template(ctx, "@shop", "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing template: %v, want ErrNotFound", err)
	}
	if _, err := c.Templates(ctx, "", ""); err == nil {
		t.Fatal("templates without channelId were queried")
	}
}

func TestAdminQueryFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := naverfake.New(t)
	f.AddChannel(naverfake.Channel{ChannelID: "@shop"})
	wrong, err := NewClient(func() Config { c := DefaultConfig(); c.ServiceID = testServiceID; return c }(),
		f.URL(), testAccessKey, "wrong-secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Channels(ctx)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.HTTPStatus != 401 || pe.Code != "200" || pe.Reason != result.ReasonAuth {
		t.Fatalf("wrong secret: %v, want 401 with gateway code 200 (auth)", err)
	}

	for _, tc := range []struct {
		status int
		body   string
		class  providers.Class
		code   string
	}{
		{429, `{"error":{"errorCode":"410","message":"Throttle Limited"}}`, providers.Retryable, "410"},
		{500, `{"status":500,"errorMessage":"Internal Server Error"}`, providers.Retryable, ""},
		{400, `{"status":400,"error":"Bad Request","message":"channelId is invalid"}`, providers.Permanent, ""},
		{200, `{"not":"an array"}`, providers.Retryable, ""},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			fmt.Fprint(w, tc.body)
		}))
		c := newTestClient(t, srv.URL, nil)
		_, err := c.Channels(ctx)
		srv.Close()
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Class != tc.class || pe.Code != tc.code {
			t.Errorf("HTTP %d %s: %v, want class %s code %q", tc.status, tc.body, err, tc.class, tc.code)
		}
	}
}

// FuzzParseAdminPage feeds arbitrary channel and template answers to the
// parser: no panic, and an error is a *providers.Error.
func FuzzParseAdminPage(f *testing.F) {
	for _, seed := range []string{
		`[{"channelId":"@a","channelStatus":"ACTIVE","isBlock":false,"isDormant":false}]`,
		`[{"templateCode":"t","templateInspectionStatus":"COMPLETE","templateStatus":"ACTIVE","buttons":[{"order":1,"type":"WL","name":"x"}],"comments":[{"status":"APR"}]}]`,
		`{"error":{"errorCode":"200","message":"Authentication Failed"}}`, `[]`, `null`, ``, `[1,2]`,
	} {
		f.Add(200, []byte(seed))
	}
	c := &Client{Now: func() time.Time { return time.Unix(0, 0) }}
	f.Fuzz(func(t *testing.T, status int, data []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		for _, parse := range []func() error{
			func() error { _, err := parseAdminPage[Channel](c, resp, data, "/channels"); return err },
			func() error { _, err := parseAdminPage[Template](c, resp, data, "/templates"); return err },
		} {
			err := parse()
			if err == nil {
				if status != 200 && status != 404 {
					t.Fatalf("HTTP %d read as a page", status)
				}
				continue
			}
			var pe *providers.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *providers.Error", err)
			}
		}
	})
}

func TestPreflightConformance(t *testing.T) {
	t.Parallel()
	providertest.PreflightSuite{
		New: func(t *testing.T) (providers.Preflighter, providers.Preflighter, func()) {
			f := naverfake.New(t)
			f.AddChannel(naverfake.Channel{ChannelID: "@ok"})
			f.AddChannel(naverfake.Channel{ChannelID: "@blocked", Status: "BLOCKED", IsBlock: true})
			cfg := DefaultConfig()
			cfg.ServiceID = testServiceID
			refused, err := NewClient(cfg, f.URL(), testAccessKey, "refused", nil)
			if err != nil {
				t.Fatal(err)
			}
			return newTestClient(t, f.URL(), nil), refused, func() { f.NextAdminStatus(http.StatusInternalServerError) }
		},
		Usable: "@ok", Unusable: "@blocked", Missing: "@none",
	}.Run(t)
}
