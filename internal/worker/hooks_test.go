package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

const hookSignature = "hook-signature-1"

// hookAccount is an NHN account through api whose reports are pushed.
func hookAccount(t *testing.T, api *nhnfake.Fake) config.Account {
	return providerAccount(t, "nhn-main", "nhn", api.URL(), "",
		map[string]string{"secret_key": nhnfake.SecretKey, providers.WebhookSignatureCredential: hookSignature},
		map[string]any{"app_key": nhnfake.AppKey})
}

// hookJob is an AlimTalk job of n recipients for hookAccount.
func hookJob(id string, n int) *job.Job {
	j := &job.Job{Version: 1, ID: id, Account: "nhn-main", Kind: job.AlimTalk,
		Sender: "0123456789abcdef0123456789abcdef01234567", Template: "ORDER_RECEIVED", Metadata: []byte(`{"order":7}`)}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("ref-%d", i), Phone: fmt.Sprintf("010-2222-88%02d", i), Content: "주문이 접수되었습니다."})
	}
	return j
}

// newHookedEnv is a NATS server, an NHN fake and the config of a worker
// with hookAccount on it, its webhook listening.
func newHookedEnv(t *testing.T) (*env, *nhnfake.Fake, *config.Config) {
	t.Helper()
	e := newEnv(t)
	api := nhnfake.New(t)
	seedNHNSenders(api)
	cfg := e.config(hookAccount(t, api))
	cfg.Webhook.Addr = freeAddr(t)
	return e, api, cfg
}

// startHooked starts a worker on cfg with the real providers, sends a
// job of n recipients (hookJob) through it and returns the job once every
// recipient's result is stored, accepted.
func (e *env) startHooked(cfg *config.Config, opts worker.Options, id string, n int) *job.Job {
	e.t.Helper()
	opts.Providers = worker.Providers
	e.startWith(cfg, opts)
	j := hookJob(id, n)
	e.publishJob(j)
	for _, ev := range e.results(n, 30*time.Second) {
		if ev.Status != result.Accepted {
			e.t.Fatalf("recipient %d: %s", ev.RecipientIndex, ev.Status)
		}
	}
	return j
}

// postHook posts body to the webhook of account at addr with signature
// (none when ""), and returns the status.
func postHook(t *testing.T, addr, account, signature string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+config.HookPathPrefix+account, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if signature != "" {
		req.Header.Set(nhn.HookSignatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// storedReportCount is how many reports the reports stream holds.
func (e *env) storedReportCount() uint64 {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), streams.ReportsStream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

// hookSamples are the values of the webhook counters of nhn-main, by
// outcome.
func hookSamples(t *testing.T, metricsAddr, name string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range scrape(t, metricsAddr) {
		if s.name == name {
			var account, outcome string
			_, _ = fmt.Sscanf(s.labels, `account=%q,outcome=%q`, &account, &outcome)
			if account == "nhn-main" {
				out[outcome] = s.value
			}
		}
	}
	return out
}

// NHN's result-update webhook, through the worker and NATS: a signed hook
// of a delivery is stored as one report with the recipient's ref and the
// job's metadata, and answered only then; the same hook again is stored
// once; a missing or wrong signature is refused with 401 and counted, an
// oversized body with 413;
// entries of messages talkrelay did not send are answered 200 (NHN
// stops retrying) and counted as dropped; a failure is left to polling.
func TestNHNReportWebhook(t *testing.T) {
	t.Parallel()
	e, api, cfg := newHookedEnv(t)
	cfg.HTTP.Addr, cfg.Webhook.MaxBodyBytes = freeAddr(t), 4096
	j := e.startHooked(cfg, worker.Options{}, "hook-1", 3)
	failed := nhn.RecipientGroupingKey(j.ID, 2)
	api.EditRecords(func(r *nhnfake.Record) {
		if r.RecipientGroupingKey == failed {
			r.MessageStatus, r.ResultCode = "FAILED", "3015"
		}
	})
	delivered := api.ResultHook(nhn.RecipientGroupingKey(j.ID, 0))
	addr := cfg.Webhook.Addr

	for _, sig := range []string{"", "wrong", hookSignature[:len(hookSignature)-1]} {
		if status := postHook(t, addr, "nhn-main", sig, delivered); status != http.StatusUnauthorized {
			t.Errorf("signature %q: %d, want 401", sig, status)
		}
	}
	if n := e.storedReportCount(); n != 0 {
		t.Fatalf("%d reports stored from unsigned hooks", n)
	}
	for range 2 {
		if status := postHook(t, addr, "nhn-main", hookSignature, delivered); status != http.StatusOK {
			t.Fatalf("signed hook: %d", status)
		}
	}
	foreign := bytes.ReplaceAll(api.ResultHook(nhn.RecipientGroupingKey(j.ID, 1)), []byte(nhn.RecipientGroupingKey(j.ID, 1)), []byte("not-ours"))
	for _, body := range [][]byte{foreign, api.ResultHook(failed)} {
		if status := postHook(t, addr, "nhn-main", hookSignature, body); status != http.StatusOK {
			t.Errorf("hook %s: %d, want 200", body, status)
		}
	}
	if status := postHook(t, addr, "nhn-main", hookSignature, []byte(`{"not":"a hook"}`)); status != http.StatusBadRequest {
		t.Errorf("malformed hook: %d, want 400", status)
	}
	if status := postHook(t, addr, "nhn-main", hookSignature, api.ResultHook(slices.Repeat([]string{nhn.RecipientGroupingKey(j.ID, 1)}, 20)...)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("hook over webhook.max_body_bytes: %d, want 413", status)
	}
	if status := postHook(t, addr, "other", hookSignature, delivered); status != http.StatusNotFound {
		t.Errorf("hook of an account without a webhook: %d, want 404", status)
	}

	// Every 200 above came after its reports were stored: the count is final.
	if n := e.storedReportCount(); n != 1 {
		t.Errorf("%d reports stored, want 1", n)
	}
	rep := e.reports(1, 10*time.Second)[0]
	if rep.JobID != j.ID || rep.RecipientIndex != 0 || rep.State != report.Delivered || rep.Ref != "ref-0" ||
		string(rep.Metadata) != `{"order":7}` || rep.Kind != string(job.AlimTalk) || rep.Provider != "nhn" || rep.Code != "1000" {
		t.Errorf("report %+v", rep)
	}
	hooks := hookSamples(t, cfg.HTTP.Addr, "talkrelay_report_hooks_total")
	if hooks["bad_signature"] != 3 || hooks["stored"] != 4 || hooks["malformed"] != 1 || hooks["too_large"] != 1 {
		t.Errorf("talkrelay_report_hooks_total: %v", hooks)
	}
	entries := hookSamples(t, cfg.HTTP.Addr, "talkrelay_report_hook_entries_total")
	if entries["reported"] != 2 || entries["foreign"] != 1 || entries["pending"] != 1 {
		t.Errorf("talkrelay_report_hook_entries_total: %v", entries)
	}
}

// A recipient whose delivery is pushed and then polled has one report;
// the poll reached it, since it reported the other recipient of the same
// window.
func TestNHNReportPushedAndPolledOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clock := &settableClock{t: time.Now().UTC().Truncate(time.Minute).Add(30 * time.Second)}
	api := nhnfake.New(t, nhnfake.WithClock(clock.Now))
	seedNHNSenders(api)
	a := hookAccount(t, api)
	on := true
	a.Reports = report.Config{Enabled: &on, Interval: 50 * time.Millisecond}
	cfg := e.config(a)
	cfg.Webhook.Addr = freeAddr(t)
	j := e.startHooked(cfg, worker.Options{Clock: clock}, "hook-2", 2)

	if status := postHook(t, cfg.Webhook.Addr, "nhn-main", hookSignature, api.ResultHook(nhn.RecipientGroupingKey(j.ID, 0))); status != http.StatusOK {
		t.Fatalf("hook: %d", status)
	}
	clock.Set(clock.Now().Add(3 * time.Minute)) // the window of both updates settles: the poller reads it
	reports := e.reports(2, 30*time.Second)
	seen := map[int]int{}
	for _, r := range reports {
		seen[r.RecipientIndex]++
	}
	if seen[0] != 1 || seen[1] != 1 {
		t.Errorf("reports by recipient: %v", seen)
	}
	if n := e.storedReportCount(); n != 2 {
		t.Errorf("%d reports stored, want 2", n)
	}
}

// A hook whose reports JetStream does not store is answered 503, for NHN
// to retry it; the retry, once the stream is back, is stored.
func TestNHNReportWebhookRetriedUntilStored(t *testing.T) {
	t.Parallel()
	e, api, cfg := newHookedEnv(t)
	j := e.startHooked(cfg, worker.Options{}, "hook-3", 1)
	hook := api.ResultHook(nhn.RecipientGroupingKey(j.ID, 0))

	if err := e.js.DeleteStream(context.Background(), streams.ReportsStream); err != nil {
		t.Fatal(err)
	}
	if status := postHook(t, cfg.Webhook.Addr, "nhn-main", hookSignature, hook); status != http.StatusServiceUnavailable {
		t.Errorf("hook while the reports stream is gone: %d, want 503", status)
	}
	natstest.EnsureStreams(t, e.js)
	if status := postHook(t, cfg.Webhook.Addr, "nhn-main", hookSignature, hook); status != http.StatusOK {
		t.Fatalf("hook retried: %d", status)
	}
	if n := e.storedReportCount(); n != 1 {
		t.Errorf("%d reports stored, want 1", n)
	}
}

// An account whose provider pushes no reports talkrelay can receive
// (Kakao) and has a webhook signature stops the worker at start-up.
func TestWebhookRefusedForKakao(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api := kakaofake.New(t)
	a := providerAccount(t, "kakao-main", "kakao", api.URL(), "",
		map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret, providers.WebhookSignatureCredential: "s"}, nil)
	cfg := e.config(a)
	cfg.Webhook.Addr = freeAddr(t)
	err := worker.Run(context.Background(), cfg, zerolog.Nop(), worker.Options{Providers: worker.Providers})
	if err == nil || !strings.Contains(err.Error(), "accounts.kakao-main.credentials.webhook_signature") {
		t.Fatalf("worker.Run: %v, want an error naming the credential", err)
	}
}

// A replica handles at most 16 hooks at once: of 17 signed hooks that
// send their headers and one byte of body and hold the rest back, exactly
// one is refused busy (answered 503 once its body is in, for NHN to
// retry); once the others end, hooks are handled again.
func TestNHNReportWebhookBusy(t *testing.T) {
	t.Parallel()
	e, api, cfg := newHookedEnv(t)
	cfg.HTTP.Addr = freeAddr(t)
	j := e.startHooked(cfg, worker.Options{}, "hook-4", 1)

	var slow []net.Conn
	for range 17 {
		c, err := net.Dial("tcp", cfg.Webhook.Addr)
		if err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
		_, err = fmt.Fprintf(c, "POST %snhn-main HTTP/1.1\r\nHost: x\r\n%s: %s\r\nContent-Length: 1000\r\n\r\n{",
			config.HookPathPrefix, nhn.HookSignatureHeader, hookSignature)
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for hookSamples(t, cfg.HTTP.Addr, "talkrelay_report_hooks_total")["busy"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("none of 17 hooks at once was refused busy")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if busy := hookSamples(t, cfg.HTTP.Addr, "talkrelay_report_hooks_total")["busy"]; busy != 1 {
		t.Errorf("%v of 17 hooks refused busy, want 1", busy) // all 17 are in: 16 hold a slot
	}
	for _, c := range slow {
		_ = c.Close()
	}
	hook := api.ResultHook(nhn.RecipientGroupingKey(j.ID, 0))
	for postHook(t, cfg.Webhook.Addr, "nhn-main", hookSignature, hook) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("hooks still refused after the others ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
