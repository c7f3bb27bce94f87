package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
)

// TestCheckConfigOnline asks each account's provider: a good NAVER
// channel, a good NHN sender with its quota, a dormant NHN sender, a
// Kakao account whose secret is refused.
func TestCheckConfigOnline(t *testing.T) {
	naverAPI, nhnAPI, kakaoAPI := naverfake.New(t), nhnfake.New(t), kakaofake.New(t)
	naverAPI.AddChannel(naverfake.Channel{ChannelID: "@shop"})
	kakaoAPI.NextToken(401) // Kakao refuses the client secret
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@a", SenderKey: "key-a", AlimTalkDailyMax: 1000, AlimTalkSent: 250})
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@z", SenderKey: "key-z", Dormant: true})
	nhn := func(name, sender string) string {
		return fmt.Sprintf(`  - name: %s
    provider: nhn
    base_url: %s
    sender: %s
    credentials: {secret_key: {value: %s}}
    options: {app_key: %s}
`, name, nhnAPI.URL(), sender, nhnfake.SecretKey, nhnfake.AppKey)
	}
	cfg := "accounts:\n" + nhn("nhn-ok", "key-a") + nhn("nhn-sleepy", "key-z") + fmt.Sprintf(`  - name: naver-ok
    provider: naver
    base_url: %s
    sender: "@shop"
    credentials: {access_key: {value: %s}, secret_key: {value: %s}}
    options: {service_id: %q}
  - name: kakao-bad
    provider: kakao
    base_url: %s
    credentials: {client_id: {value: %s}, client_secret: {value: %s}}
    options: {sender_no: "0212345678"}
`, naverAPI.URL(), naverfake.AccessKey, naverfake.SecretKey, naverfake.ServiceID, kakaoAPI.URL(), kakaofake.ClientID, kakaofake.ClientSecret)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runWorker(t, "--config", path, "--check-config", "--online")
	want := []string{
		"nhn-ok (nhn): ok, AlimTalk 250 of 1000 sent today",
		"nhn-sleepy (nhn): NOT READY: sender is dormant",
		"naver-ok (naver): ok",
		"kakao-bad (kakao): NOT READY: credentials refused",
	}
	for _, w := range want {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	if code != 1 || !strings.Contains(stderr, "nhn-sleepy, kakao-bad") || strings.Contains(stdout+stderr, kakaofake.ClientSecret) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout)
	}
}
