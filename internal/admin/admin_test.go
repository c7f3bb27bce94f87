package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
)

// fixture is a config file with one NHN and one NAVER account pointed at
// their fakes.
type fixture struct {
	nhn    *nhnfake.Fake
	naver  *naverfake.Fake
	config string
}

func newFixture(t *testing.T, nhnSecret string) *fixture {
	t.Helper()
	fx := &fixture{nhn: nhnfake.New(t), naver: naverfake.New(t)}
	cfg := fmt.Sprintf(`accounts:
  - name: nhn-main
    provider: nhn
    base_url: %s
    credentials:
      secret_key: {value: %q}
    options:
      app_key: %s
  - name: naver-main
    provider: naver
    base_url: %s
    credentials:
      access_key: {value: %s}
      secret_key: {value: %s}
    options:
      service_id: %q
`, fx.nhn.URL(), nhnSecret, nhnfake.AppKey, fx.naver.URL(), naverfake.AccessKey, naverfake.SecretKey, naverfake.ServiceID)
	fx.config = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(fx.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return fx
}

// run runs admin with the fixture's config, stdin answering confirmations.
func (fx *fixture) run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), append([]string{"--config", fx.config}, args...), strings.NewReader(stdin), &out, &errOut, nil)
	return code, out.String(), errOut.String()
}

func TestNHNSenderCommands(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, nhnfake.SecretKey)
	fx.nhn.AddSender(nhnfake.Sender{PlusFriendID: "@shop", SenderKey: "key-shop", AlimTalkDailyMax: 1000, AlimTalkSent: 250})
	fx.nhn.AddSender(nhnfake.Sender{PlusFriendID: "@sleepy", SenderKey: "key-sleepy", Dormant: true})

	code, out, _ := fx.run(t, "", "senders", "categories")
	if code != ExitOK || !strings.Contains(out, "00100010001") {
		t.Fatalf("categories: exit %d\n%s", code, out)
	}
	code, out, errOut := fx.run(t, "", "senders", "register", "--plus-friend-id", "@new", "--phone", "01012345678", "--category", "00100010001")
	if code != ExitOK || strings.Contains(out+errOut, "01012345678") || !strings.Contains(out, "010****5678") {
		t.Fatalf("register: exit %d, want the phone masked\n%s%s", code, out, errOut)
	}
	s, _ := fx.nhn.SenderOf("@new")
	if code, out, errOut := fx.run(t, "", "senders", "token", "--plus-friend-id", "@new", "--token", fmt.Sprint(s.Token)); code != ExitOK {
		t.Fatalf("token: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = fx.run(t, "", "senders", "get", "key-shop")
	if code != ExitOK || !strings.Contains(out, "250/1000") || !strings.Contains(out, "yes") {
		t.Fatalf("get: exit %d, want the quota 250/1000\n%s", code, out)
	}
	code, out, _ = fx.run(t, "", "--json", "senders", "get", "key-sleepy")
	var got struct {
		Sender struct {
			SenderKey string `json:"senderKey"`
			Dormant   bool   `json:"dormant"`
		} `json:"sender"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != ExitOK || err != nil || !got.Sender.Dormant {
		t.Fatalf("get --json: exit %d, %v\n%s", code, err, out)
	}
	code, out, _ = fx.run(t, "", "--json", "senders", "list", "--page-size", "2", "--page", "2")
	var page struct {
		Senders    []map[string]any `json:"senders"`
		TotalCount int              `json:"totalCount"`
	}
	if err := json.Unmarshal([]byte(out), &page); code != ExitOK || err != nil || page.TotalCount != 3 || len(page.Senders) != 1 {
		t.Fatalf("list page 2 of 2: exit %d, %v\n%s", code, err, out)
	}

	// Delete: refused without confirmation, done with y or --yes.
	code, _, errOut = fx.run(t, "n\n", "senders", "delete", "key-sleepy")
	if _, ok := fx.nhn.SenderOf("key-sleepy"); code != ExitNotConfirmed || !ok {
		t.Fatalf("delete answered n: exit %d, sender kept %v\n%s", code, ok, errOut)
	}
	if code, _, _ := fx.run(t, "y\n", "senders", "delete", "key-sleepy"); code != ExitOK {
		t.Fatalf("delete answered y: exit %d", code)
	}
	code, _, errOut = fx.run(t, "", "--yes", "senders", "delete", "key-sleepy")
	if code != ExitNotFound || !strings.Contains(errOut, "code -2017") || !strings.Contains(errOut, "hint:") {
		t.Fatalf("delete of a deleted sender: exit %d, want %d with code and hint\n%s", code, ExitNotFound, errOut)
	}
}

func TestNHNGroupCommands(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, nhnfake.SecretKey)
	fx.nhn.AddSender(nhnfake.Sender{PlusFriendID: "@shop", SenderKey: "key-shop"})
	fx.nhn.AddGroup("grp", "all shops")

	if code, _, errOut := fx.run(t, "", "groups", "add", "grp", "key-shop"); code != ExitOK {
		t.Fatalf("add: exit %d\n%s", code, errOut)
	}
	code, out, _ := fx.run(t, "", "groups", "get", "grp")
	if code != ExitOK || !strings.Contains(out, "all shops") || !strings.Contains(out, "key-shop") {
		t.Fatalf("get: exit %d\n%s", code, out)
	}
	if code, _, _ := fx.run(t, "", "groups", "remove", "grp", "key-shop"); code != ExitNotConfirmed {
		t.Fatalf("remove without an answer: exit %d, want %d", code, ExitNotConfirmed)
	}
	if code, _, _ := fx.run(t, "", "-y", "groups", "remove", "grp", "key-shop"); code != ExitOK || len(fx.nhn.GroupMembers("grp")) != 0 {
		t.Fatalf("remove --yes: exit %d, members %v", code, fx.nhn.GroupMembers("grp"))
	}
}

func TestNHNImageAndFallbackCommands(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, nhnfake.SecretKey)
	fx.nhn.AddSender(nhnfake.Sender{PlusFriendID: "@shop", SenderKey: "key-shop"})
	dir := t.TempDir()
	write := func(name string, w, h int) string {
		var buf bytes.Buffer
		png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)))
		p := filepath.Join(dir, name)
		os.WriteFile(p, buf.Bytes(), 0o600)
		return p
	}

	code, out, _ := fx.run(t, "", "--json", "images", "upload", write("ok.png", 720, 720))
	var up struct {
		Image struct {
			ImageSeq int64  `json:"imageSeq"`
			ImageURL string `json:"imageUrl"`
		} `json:"image"`
	}
	if err := json.Unmarshal([]byte(out), &up); code != ExitOK || err != nil || up.Image.ImageSeq != 1 || up.Image.ImageURL == "" {
		t.Fatalf("upload: exit %d, %v\n%s", code, err, out)
	}
	code, _, errOut := fx.run(t, "", "images", "upload", write("small.png", 300, 300))
	if code != ExitRefused || !strings.Contains(errOut, "at least 500") || len(fx.nhn.Images()) != 1 {
		t.Fatalf("upload of a small image: exit %d, fake holds %d\n%s", code, len(fx.nhn.Images()), errOut)
	}
	code, out, _ = fx.run(t, "", "images", "list")
	if code != ExitOK || !strings.Contains(out, "ok.png") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if code, _, _ := fx.run(t, "", "--yes", "images", "delete", "1"); code != ExitOK || len(fx.nhn.Images()) != 0 {
		t.Fatalf("delete: exit %d, fake holds %d", code, len(fx.nhn.Images()))
	}

	if code, _, errOut := fx.run(t, "", "fallback", "set", "@shop", "--send-no", "0212345678"); code != ExitOK {
		t.Fatalf("fallback set: exit %d\n%s", code, errOut)
	}
	code, out, _ = fx.run(t, "", "--json", "fallback", "get", "@shop")
	if code != ExitOK || !strings.Contains(out, `"isResend": true`) || !strings.Contains(out, "0212345678") {
		t.Fatalf("fallback get: exit %d\n%s", code, out)
	}
	if code, _, _ := fx.run(t, "", "fallback", "appkey", "sms-app"); code != ExitOK || fx.nhn.SMSAppKey() != "sms-app" {
		t.Fatalf("fallback appkey: exit %d", code)
	}
}

func TestNAVERCommands(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, nhnfake.SecretKey)
	fx.naver.AddChannel(naverfake.Channel{ChannelID: "@shop", ChannelName: "Shop"})
	fx.naver.AddChannel(naverfake.Channel{ChannelID: "@gone", Status: "BLOCKED", IsBlock: true})
	fx.naver.AddTemplate(naverfake.Template{ChannelID: "@shop", Code: "order_v1", Name: "order", Content: "Your order shipped",
		Buttons: [][2]string{{"DS", "track"}}, Comment: "ok"})
	fx.naver.AddTemplate(naverfake.Template{ChannelID: "@shop", Code: "draft", Name: "draft", InspectionStatus: "INSPECT", Status: "READY"})

	code, out, _ := fx.run(t, "", "channels", "list")
	if code != ExitOK || !strings.Contains(out, "no: channel is blocked") {
		t.Fatalf("channels list: exit %d\n%s", code, out)
	}
	code, out, _ = fx.run(t, "", "--json", "channels", "get", "@shop")
	if code != ExitOK || !strings.Contains(out, `"channelStatus": "ACTIVE"`) {
		t.Fatalf("channels get: exit %d\n%s", code, out)
	}
	if code, _, _ := fx.run(t, "", "channels", "get", "@nope"); code != ExitNotFound {
		t.Fatalf("channels get of an unknown channel: exit %d, want %d", code, ExitNotFound)
	}
	code, out, _ = fx.run(t, "", "templates", "list", "--channel", "@shop")
	if code != ExitOK || !strings.Contains(out, "no: template is not approved (inspection INSPECT)") {
		t.Fatalf("templates list: exit %d\n%s", code, out)
	}
	code, out, _ = fx.run(t, "", "templates", "get", "--channel", "@shop", "order_v1")
	if code != ExitOK || !strings.Contains(out, "DS track") || !strings.Contains(out, "Your order shipped") {
		t.Fatalf("templates get: exit %d\n%s", code, out)
	}
}

func TestFailuresAndAccounts(t *testing.T) {
	t.Parallel()
	const secret = "wrong-but-secret-value"
	fx := newFixture(t, secret)

	code, out, errOut := fx.run(t, "", "--json", "senders", "get", "key")
	if code != ExitRefused || !strings.Contains(errOut, "code -1001") || !strings.Contains(errOut, "credentials") {
		t.Fatalf("wrong secret: exit %d\n%s", code, errOut)
	}
	var f failure
	if err := json.Unmarshal([]byte(out), &f); err != nil || f.Error.Code != "-1001" || f.Error.Exit != ExitRefused || f.Error.Hint == "" {
		t.Fatalf("wrong secret --json: %v\n%s", err, out)
	}
	if strings.Contains(out+errOut, secret) {
		t.Fatal("the secret was printed")
	}

	ok := newFixture(t, nhnfake.SecretKey)
	ok.nhn.NextAdminStatus(503)
	if code, _, errOut := ok.run(t, "", "-a", "nhn-main", "images", "list"); code != ExitUnavailable || !strings.Contains(errOut, "HTTP 503") {
		t.Fatalf("HTTP 503: exit %d, want %d\n%s", code, ExitUnavailable, errOut)
	}
	for _, args := range [][]string{
		{"-a", "naver-main", "senders", "list"}, // wrong provider
		{"-a", "nope", "channels", "list"},      // no such account
		{"senders", "list", "--page-size", "x"}, // kong
	} {
		if code, _, errOut := fx.run(t, "", args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitUsage, errOut)
		}
	}
	if calls := fx.nhn.AdminCalls(); len(calls) != 1 {
		t.Fatalf("calls %v: a wrong command line reached NHN", calls)
	}
}
