package worker_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// With reports enabled on a Kakao account, the worker polls Kakao's
// results, publishes each accepted recipient's report once with the job's
// ref and metadata, and completes every batch it stored.
func TestKakaoReportsThroughTheWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api := kakaofake.New(t)
	acct := providerAccount(t, "kakao-main", "kakao", api.URL(), "",
		map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret},
		map[string]any{"sender_no": "0212345678"})
	on := true
	acct.Reports = report.Config{Enabled: &on, Interval: 50 * time.Millisecond}
	e.startWith(e.config(acct), worker.Options{Providers: worker.Providers})

	const n = 5
	j := &job.Job{Version: 1, ID: "kakao-rep.1", Account: "kakao-main", Kind: job.AlimTalk,
		Sender: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", Template: "ORDER_SHIPPED", Metadata: json.RawMessage(`{"order":7}`)}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("k%d", i),
			Phone: fmt.Sprintf("010-3333-%04d", i), Content: "[Talkrelay] 주문하신 상품이 발송되었습니다."})
	}
	e.publishJob(j)
	for _, r := range e.results(n, 30*time.Second) {
		if r.Status != result.Accepted {
			t.Fatalf("result %+v, want accepted", r)
		}
	}
	seen := map[int]bool{}
	for _, ev := range e.reports(n, 30*time.Second) {
		if ev.JobID != j.ID || seen[ev.RecipientIndex] || ev.State != report.Delivered || ev.Ref != fmt.Sprintf("k%d", ev.RecipientIndex) ||
			string(ev.Metadata) != `{"order":7}` || ev.Provider != "kakao" || ev.Kind != "alimtalk" || ev.ProviderMessageID == "" {
			t.Errorf("report %+v: want one delivered report of %s with its ref, metadata and uid", ev, j.ID)
		}
		seen[ev.RecipientIndex] = true
	}
	deadline := time.Now().Add(30 * time.Second)
	for api.Completed() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d results completed", api.Completed(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
