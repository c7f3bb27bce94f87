package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// With reports enabled on a NAVER account, the worker asks NAVER's
// request list for each accepted request and publishes each recipient's
// report once: delivered, failed, or fallback_sent after its SMS. A
// second replica takes the polling over from the first one's cursor when
// it stops, with no gap and no duplicate.
func TestNAVERReportsThroughTheWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clk := &stepClock{t: time.Now().UTC()}
	api := naverfake.New(t, naverfake.WithClock(clk.Now))
	api.AddChannel(naverfake.Channel{ChannelID: "@talkrelay-shop"})
	api.AddTemplate(naverfake.Template{ChannelID: "@talkrelay-shop", Code: "ORDER_SHIPPED"})
	acct := providerAccount(t, "naver-main", "naver", api.URL(), "@talkrelay-shop",
		map[string]string{"access_key": naverfake.AccessKey, "secret_key": naverfake.SecretKey},
		map[string]any{"service_id": naverfake.ServiceID})
	on := true
	acct.Reports = report.Config{Enabled: &on, Interval: 50 * time.Millisecond, Lease: 2 * time.Second}
	cfg := e.config(acct)
	stopFirst := e.startWith(cfg, worker.Options{Providers: worker.Providers, Clock: clk})
	waitReportCursor(t, e, "cursor.naver-main")

	const n = 6
	want := map[string]report.State{}
	send := func(id string, failover bool) {
		t.Helper()
		j := &job.Job{Version: 1, ID: id, Account: "naver-main", Kind: job.AlimTalk, Template: "ORDER_SHIPPED",
			Metadata: json.RawMessage(`{"order":42}`)}
		for i := range n {
			j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("c%d", i), Phone: fmt.Sprintf("010-55%s5-%04d", id[len(id)-1:], i),
				Content: "주문하신 상품이 발송되었습니다."})
			want[fmt.Sprintf("%s/%d", id, i)] = report.Delivered
		}
		if failover {
			j.Recipients[1].Failover = &job.Failover{Enabled: job.Bool(true)}
			api.FailDelivery(strings.ReplaceAll(j.Recipients[1].Phone, "-", ""), "3018")
			api.FailDelivery(strings.ReplaceAll(j.Recipients[2].Phone, "-", ""), "3018")
			want[id+"/1"], want[id+"/2"] = report.FallbackSent, report.Failed
		}
		e.publishJob(j)
	}
	check := func(evs []report.Event) {
		t.Helper()
		if len(evs) != len(want) {
			t.Fatalf("%d reports, want %d", len(evs), len(want))
		}
		seen := map[string]bool{}
		for _, ev := range evs {
			key := fmt.Sprintf("%s/%d", ev.JobID, ev.RecipientIndex)
			if seen[key] || ev.State != want[key] || ev.Ref != fmt.Sprintf("c%d", ev.RecipientIndex) ||
				string(ev.Metadata) != `{"order":42}` || ev.Provider != "naver" || ev.ProviderMessageID == "" {
				t.Errorf("report %+v: want one %s report with its ref, metadata and NAVER's message id", ev, want[key])
			}
			seen[key] = true
		}
	}

	send("naver-rep.1", true)
	for _, r := range e.results(n, 30*time.Second) {
		if r.Status != result.Accepted {
			t.Fatalf("result %+v, want accepted", r)
		}
	}
	clk.add(15 * time.Second) // past the request's settle time and its fallback
	check(e.reports(n, 30*time.Second))

	// The second replica takes over when the first stops.
	e.startWith(cfg, worker.Options{Providers: worker.Providers, Clock: clk})
	if err := stopFirst(); err != nil {
		t.Fatal(err)
	}
	send("naver-rep.2", false)
	e.results(2*n, 30*time.Second)
	clk.add(15 * time.Second)
	check(e.reports(2*n, 30*time.Second))
}

// waitReportCursor waits until a report poller has saved its cursor key,
// so that what is accepted from then on is reported.
func waitReportCursor(t *testing.T, e *env, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	kv, err := e.js.KeyValue(ctx, streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := kv.Get(ctx, key); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no report cursor %s: %v", key, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
