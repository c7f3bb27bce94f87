package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/decide"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// TestGuardRejectsBeforeSending: a NAVER job for a template that is not
// approved and an NHN job naming a blocked sender (the account's own is
// fine) are rejected with the reason and never sent; the template is
// asked about once for all its jobs. An approved template goes out.
func TestGuardRejectsBeforeSending(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	naverAPI, nhnAPI := naverfake.New(t), nhnfake.New(t)
	naverAPI.AddChannel(naverfake.Channel{ChannelID: "@shop"})
	naverAPI.AddTemplate(naverfake.Template{ChannelID: "@shop", Code: "OK_T"})
	naverAPI.AddTemplate(naverfake.Template{ChannelID: "@shop", Code: "DRAFT", InspectionStatus: "REJECT", Status: "READY"})
	const good, blocked = "a000000000000000000000000000000000000000", "b000000000000000000000000000000000000000"
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@good", SenderKey: good})
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@blocked", SenderKey: blocked, Block: true, KakaoStatus: "S"})

	content := job.Recipient{Phone: "010-1234-5678", Content: "주문이 접수되었습니다."}
	for i := range 3 {
		e.publishJob(&job.Job{Version: 1, ID: "draft-" + string(rune('a'+i)), Account: "naver-main", Kind: job.AlimTalk, Template: "DRAFT",
			Recipients: []job.Recipient{content}})
	}
	e.publishJob(&job.Job{Version: 1, ID: "ok", Account: "naver-main", Kind: job.AlimTalk, Template: "OK_T", Recipients: []job.Recipient{content}})
	e.publishJob(&job.Job{Version: 1, ID: "blocked", Account: "nhn-main", Kind: job.AlimTalk, Sender: blocked, Template: "T",
		Recipients: []job.Recipient{content}})
	e.startWith(e.config(
		providerAccount(t, "naver-main", "naver", naverAPI.URL(), "@shop",
			map[string]string{"access_key": naverfake.AccessKey, "secret_key": naverfake.SecretKey},
			map[string]any{"service_id": naverfake.ServiceID}),
		providerAccount(t, "nhn-main", "nhn", nhnAPI.URL(), good, map[string]string{"secret_key": nhnfake.SecretKey},
			map[string]any{"app_key": nhnfake.AppKey}),
	), worker.Options{Providers: worker.Providers})

	for _, ev := range e.results(5, 30*time.Second) {
		switch {
		case ev.JobID == "ok":
			if ev.Status != result.Accepted {
				t.Errorf("approved template: %s %s", ev.Status, ev.Message)
			}
		case strings.HasPrefix(ev.JobID, "draft-"):
			if ev.Status != result.Rejected || ev.Reason != result.ReasonProviderRejected || !strings.Contains(ev.Message, "not approved") {
				t.Errorf("%s: %s %s %q, want rejected: not approved", ev.JobID, ev.Status, ev.Reason, ev.Message)
			}
		case ev.JobID == "blocked":
			if ev.Status != result.Rejected || !strings.Contains(ev.Message, "sender "+blocked+": sender is blocked") {
				t.Errorf("blocked sender: %s %q", ev.Status, ev.Message)
			}
		}
	}
	if naverAPI.Sends() != 1 || nhnAPI.Sends() != 0 {
		t.Errorf("sends: naver %d (want 1: the approved template), nhn %d (want 0)", naverAPI.Sends(), nhnAPI.Sends())
	}
	asked := 0
	for _, q := range naverAPI.AdminQueries() {
		if q.Get("templateCode") == "DRAFT" {
			asked++
		}
	}
	if asked != 1 {
		t.Errorf("template DRAFT asked %d times for 3 jobs, want once", asked)
	}
}

// TestDailyQuotaHold: an NHN sender whose AlimTalk quota is spent holds
// its jobs until 00:00 KST (a retry schedule; nothing sent), fails one
// whose deadline comes first, and with daily_quota: fail fails at once.
func TestDailyQuotaHold(t *testing.T) {
	t.Parallel()
	now := time.Now()
	deadline := decide.QuotaDay(now).Add(-time.Second)
	if deadline.Sub(now) < time.Minute {
		t.Skip("too close to 00:00 KST")
	}
	for _, mode := range []string{config.DailyQuotaHold, config.DailyQuotaFail} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			api := nhnfake.New(t)
			const spent = "c000000000000000000000000000000000000000"
			api.AddSender(nhnfake.Sender{PlusFriendID: "@spent", SenderKey: spent, AlimTalkDailyMax: 100, AlimTalkSent: 100})
			a := providerAccount(t, "nhn-main", "nhn", api.URL(), spent, map[string]string{"secret_key": nhnfake.SecretKey},
				map[string]any{"app_key": nhnfake.AppKey})
			a.DailyQuota = mode
			r := job.Recipient{Phone: "010-1234-5678", Content: "주문이 접수되었습니다."}
			e.publishJob(&job.Job{Version: 1, ID: "urgent", Account: "nhn-main", Kind: job.AlimTalk, Template: "T",
				Deadline: &deadline, Recipients: []job.Recipient{r}})
			e.publishJob(&job.Job{Version: 1, ID: "later", Account: "nhn-main", Kind: job.AlimTalk, Template: "T",
				Recipients: []job.Recipient{r}})
			e.startWith(e.config(a), worker.Options{Providers: worker.Providers})

			if mode == config.DailyQuotaFail {
				for _, ev := range e.results(2, 30*time.Second) {
					if ev.Status != result.Failed || ev.Reason != result.ReasonProviderRejected || !strings.Contains(ev.Detail, "daily quota") {
						t.Errorf("%s: %s %s %q, want failed: daily quota spent", ev.JobID, ev.Status, ev.Reason, ev.Detail)
					}
				}
			} else {
				ev := e.results(1, 30*time.Second)[0]
				if ev.JobID != "urgent" || ev.Status != result.Failed || ev.Reason != result.ReasonDeadlineExceeded ||
					!strings.Contains(ev.Detail, "daily quota") {
					t.Errorf("job with a deadline before 00:00 KST: %s %s %s %q", ev.JobID, ev.Status, ev.Reason, ev.Detail)
				}
				// On the real clock, NATS fires the schedule at 00:00 KST itself.
				h := e.schedules(1)[0].Header.Get(jetstream.ScheduleHeader)
				if at, err := time.Parse(time.RFC3339, strings.TrimPrefix(h, "@at ")); err != nil || !at.Equal(decide.QuotaDay(now)) {
					t.Errorf("held job scheduled %q, want @at %s (00:00 KST)", h, decide.QuotaDay(now).UTC().Format(time.RFC3339))
				}
			}
			if api.Sends() != 0 {
				t.Errorf("%d sends with the quota spent", api.Sends())
			}
		})
	}
}
