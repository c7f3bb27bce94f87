package worker_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/kakao"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
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

// kakaoAccount is the kakao-main account on api, with reports on or off.
func kakaoAccount(t *testing.T, api *kakaofake.Fake, reports bool) config.Account {
	acct := providerAccount(t, "kakao-main", "kakao", api.URL(), "",
		map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret},
		map[string]any{"sender_no": "0212345678"})
	acct.Reports = report.Config{Enabled: &reports, Interval: 50 * time.Millisecond, Horizon: time.Minute}
	acct.Retry = fastRetry(3)
	return acct
}

// kakaoJob is an AlimTalk job of n recipients to kakao-main.
func kakaoJob(id string, n int) *job.Job {
	j := &job.Job{Version: 1, ID: id, Account: "kakao-main", Kind: job.AlimTalk,
		Sender: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", Template: "ORDER_SHIPPED", Metadata: json.RawMessage(`{"order":8}`)}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("k%d", i),
			Phone: fmt.Sprintf("010-4444-%04d", i), Content: "[Talkrelay] 주문하신 상품이 발송되었습니다."})
	}
	return j
}

// Under Kakao's polling contract every send answers 100 (in progress).
// With reports on, each recipient is accepted at once and reported from
// the polled results, with no detail lookup; at the report horizon, a
// message polling never returned is looked up once by its uid and
// reported from its detail (delivered), or expired while the detail still
// says processing. Each recipient has exactly one report.
func TestKakaoInProgressSettledByPolling(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clock := &settableClock{t: time.Now().UTC()}
	api := kakaofake.New(t, kakaofake.WithPollingContract(), kakaofake.WithClock(clock.Now))
	e.startWith(e.config(kakaoAccount(t, api, true)), worker.Options{Providers: worker.Providers, Clock: clock})
	kv, err := e.js.KeyValue(t.Context(), streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	expiryCursor := func() string {
		entry, err := kv.Get(t.Context(), "cursor.kakao-main.expiry")
		if err != nil {
			return ""
		}
		return string(entry.Value())
	}
	// The expiry walks the results accepted after it first polled.
	waitFor(t, 30*time.Second, "the expiry poller's cursor", func() bool { return expiryCursor() != "" })

	const n = 4
	j := kakaoJob("kakao-100.1", n)
	e.publishJob(j)
	for _, r := range e.results(n, 30*time.Second) {
		if r.Status != result.Accepted || r.Code != "100" || !strings.HasPrefix(r.Message, kakao.InProgressMessage) || r.ProviderMessageID == "" {
			t.Fatalf("result %+v, want accepted in progress (code 100) with the uid", r)
		}
	}
	uids := map[string]string{} // by cid
	for _, m := range api.Taken() {
		uids[m.CID] = m.UID
	}
	api.SetStatus(uids[kakao.CID(j.ID, 0)], "API_200")
	api.SetStatus(uids[kakao.CID(j.ID, 1)], "API_510")
	lost := uids[kakao.CID(j.ID, 2)]
	api.ForgetResult(lost) // polling never returns it; its detail says delivered
	api.SetStatus(lost, "API_200")
	// Recipient 3 stays in progress.

	byIndex := map[int]report.State{}
	for _, ev := range e.reports(2, 30*time.Second) {
		byIndex[ev.RecipientIndex] = ev.State
	}
	if byIndex[0] != report.Delivered || byIndex[1] != report.Failed {
		t.Fatalf("polled reports %v; want 0 delivered, 1 failed", byIndex)
	}
	waitFor(t, 30*time.Second, "both polled results completed", func() bool { return api.Completed() == 2 })
	if d := api.Details(); d != 0 {
		t.Fatalf("%d detail lookups for messages answered 100 and polled, want 0", d)
	}

	clock.Set(clock.Now().Add(2 * time.Minute)) // past the horizon
	for _, ev := range e.reports(n, 30*time.Second)[2:] {
		byIndex[ev.RecipientIndex] = ev.State
		if ev.Ref != fmt.Sprintf("k%d", ev.RecipientIndex) || string(ev.Metadata) != `{"order":8}` || ev.ProviderMessageID == "" {
			t.Errorf("report %+v: want its ref, metadata and uid", ev)
		}
	}
	if byIndex[2] != report.Delivered || byIndex[3] != report.Expired {
		t.Errorf("reports at the horizon %v: want 2 delivered (its detail), 3 expired (still processing)", byIndex)
	}
	results, err := e.js.Stream(t.Context(), streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	last := strconv.FormatUint(results.CachedInfo().State.LastSeq, 10)
	waitFor(t, 30*time.Second, "the expiry poller past every result", func() bool { return expiryCursor() == last })
	if d, stored := api.Details(), e.storedReportCount(); d != 2 || stored != n {
		t.Errorf("%d detail lookups, %d reports stored; want 2 (the two messages polling never returned) and %d", d, stored, n)
	}
}

// With reports off, a send answered 100 is still looked up by its uid
// (here: processing at each lookup, so it ends unknown after max_lookups).
func TestKakaoInProgressLookedUpWithoutReports(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api := kakaofake.New(t, kakaofake.WithPollingContract())
	e.startWith(e.config(kakaoAccount(t, api, false)), worker.Options{Providers: worker.Providers})
	e.publishJob(kakaoJob("kakao-100.2", 1))
	r := e.results(1, 30*time.Second)[0]
	if r.Status != result.Unknown || r.Code != "API_100" {
		t.Fatalf("result %+v, want unknown after its lookups (API_100, processing)", r)
	}
	if d := api.Details(); d != fastRetry(3).MaxLookups {
		t.Errorf("%d detail lookups, want %d", d, fastRetry(3).MaxLookups)
	}
}
