package worker_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

func readyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPreflightHoldsBadAccounts: a blocked sender, a dormant sender and a
// NAVER account whose secret the gateway refuses are found at start-up;
// their jobs stay in the stream (no provider request, no result) and
// /readyz names each with its reason, while a good account is served.
// Once the dormant sender wakes up, a later check releases its account
// and its job is sent.
func TestPreflightHoldsBadAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	nhnAPI := nhnfake.New(t)
	naverAPI := naverfake.New(t)
	naverAPI.AddChannel(naverfake.Channel{ChannelID: "@shop"})
	const blocked, dormant = "b0000000000000000000000000000000000000bb", "d0000000000000000000000000000000000000dd"
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@blocked", SenderKey: blocked, Block: true, KakaoStatus: "S", KakaoProfileStatus: "B"})
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@dormant", SenderKey: dormant, Dormant: true})

	nhnCreds := map[string]string{"secret_key": nhnfake.SecretKey}
	nhnOpts := map[string]any{"app_key": nhnfake.AppKey}
	cfg := e.config(
		sandboxAccount("good", nil),
		providerAccount(t, "nhn-blocked", "nhn", nhnAPI.URL(), blocked, nhnCreds, nhnOpts),
		providerAccount(t, "nhn-dormant", "nhn", nhnAPI.URL(), dormant, nhnCreds, nhnOpts),
		providerAccount(t, "naver-badkey", "naver", naverAPI.URL(), "@shop",
			map[string]string{"access_key": naverfake.AccessKey, "secret_key": "not-the-secret"},
			map[string]any{"service_id": naverfake.ServiceID}),
	)
	cfg.HTTP.Addr = freeAddr(t)
	for _, acct := range []string{"good", "nhn-blocked", "nhn-dormant"} {
		e.publishJob(&job.Job{Version: 1, ID: "job-" + acct, Account: acct, Kind: job.AlimTalk, Template: "ORDER",
			Recipients: []job.Recipient{{Phone: "010-1234-5678", Content: "주문이 접수되었습니다."}}})
	}
	e.publishJob(&job.Job{Version: 1, ID: "job-naver-badkey", Account: "naver-badkey", Kind: job.AlimTalk, Template: "ORDER",
		Recipients: []job.Recipient{{Phone: "010-1234-5678", Content: "주문이 접수되었습니다."}}})
	e.startWith(cfg, worker.Options{Providers: worker.Providers, PreflightEvery: 100 * time.Millisecond})

	if ev := e.results(1, 30*time.Second)[0]; ev.JobID != "job-good" || ev.Status != result.Accepted {
		t.Fatalf("first result %s %s, want the good account's job accepted", ev.JobID, ev.Status)
	}
	status, body := readyz(t, cfg.HTTP.Addr)
	for _, want := range []string{"ready", "account nhn-blocked not ready: sender is blocked",
		"account nhn-dormant not ready: sender is dormant", "account naver-badkey not ready: credentials refused"} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/readyz %d %q: want 200 naming %q", status, body, want)
		}
	}
	if strings.Contains(body, "not-the-secret") {
		t.Error("/readyz prints the secret")
	}
	samples := scrape(t, cfg.HTTP.Addr)
	for acct, want := range map[string]float64{"good": 0, "nhn-blocked": 1, "nhn-dormant": 1, "naver-badkey": 1} {
		if v, ok := find(samples, "talkrelay_account_held", `account="`+acct+`"`); !ok || v != want {
			t.Errorf("talkrelay_account_held{account=%q} = %v (exported %v), want %v", acct, v, ok, want)
		}
	}
	if nhnAPI.Sends() != 0 || naverAPI.Sends() != 0 {
		t.Fatalf("held accounts sent: nhn %d, naver %d requests", nhnAPI.Sends(), naverAPI.Sends())
	}

	nhnAPI.EditSender(dormant, func(s *nhnfake.Sender) { s.Dormant = false })
	evs := e.results(2, 30*time.Second)
	if ev := evs[1]; ev.JobID != "job-nhn-dormant" || ev.Status != result.Accepted {
		t.Fatalf("after the sender woke up: %s %s, want its job accepted", ev.JobID, ev.Status)
	}
	if _, body := readyz(t, cfg.HTTP.Addr); strings.Contains(body, "nhn-dormant") || !strings.Contains(body, "nhn-blocked") {
		t.Errorf("/readyz %q: want nhn-dormant released, nhn-blocked still held", body)
	}
	if v, _ := find(scrape(t, cfg.HTTP.Addr), "talkrelay_account_held", `account="nhn-dormant"`); v != 0 {
		t.Errorf("talkrelay_account_held{account=\"nhn-dormant\"} = %v after its release, want 0", v)
	}
	if n := e.streamCount(streams.ResultsStream); n != 2 {
		t.Errorf("%d results, want 2: a held account's job got one", n)
	}
}
