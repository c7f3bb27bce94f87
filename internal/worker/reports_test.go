package worker_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
	"github.com/talkrelay/talkrelay/schemas"
)

// reports reads report events from the start of the reports stream until
// n have arrived.
func (e *env) reports(n int, timeout time.Duration) []report.Event {
	e.t.Helper()
	return readStream[report.Event](e.t, e.js, streams.ReportsStream, n, timeout, func(m jetstream.Msg) report.Event {
		if err := schemas.ValidateReport(m.Data()); err != nil {
			e.t.Errorf("report breaks the schema: %v\n%s", err, m.Data())
		}
		var ev report.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			e.t.Fatalf("report: %v", err)
		}
		if m.Subject() != streams.ReportSubject(ev.Account, string(ev.State), ev.JobID) {
			e.t.Errorf("report in state %s published on %s", ev.State, m.Subject())
		}
		return ev
	})
}

// The sandbox reports every accepted recipient once, after its delay,
// delivered or (for its fallback share) fallback_sent, with the job's
// ref and metadata; two replicas share the polling, and the one polling
// stops half way.
func TestSandboxReportsEachAcceptedRecipientOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := sandboxAccount("sbx", map[string]any{"report_delay": "300ms", "fallback_rate": 0.3})
	acct.Reports.Interval = 50 * time.Millisecond
	acct.Reports.Lease = 2 * time.Second
	first := e.start(e.config(acct))
	second := e.config(acct)
	second.HTTP.Addr = freeAddr(t)
	e.start(second)

	const n = 150
	e.publishJob(testJob("rep-1", "sbx", n))
	results := e.results(n, 30*time.Second)
	e.reports(1, 30*time.Second)
	if err := first(); err != nil { // the first replica to start took the lease
		t.Fatal(err)
	}
	e.publishJob(testJob("rep-2", "sbx", n))
	results = append(results, e.results(2*n, 30*time.Second)[n:]...)
	reports := e.reports(2*n, 30*time.Second)

	accepted := map[string]result.Event{}
	for _, r := range results {
		if r.Status == result.Accepted {
			accepted[fmt.Sprintf("%s/%d", r.JobID, r.RecipientIndex)] = r
		}
	}
	if len(accepted) != 2*n {
		t.Fatalf("%d accepted results, want %d", len(accepted), 2*n)
	}
	seen := map[string]bool{}
	states := map[report.State]int{}
	for _, ev := range reports {
		key := fmt.Sprintf("%s/%d", ev.JobID, ev.RecipientIndex)
		r, ok := accepted[key]
		switch {
		case !ok:
			t.Errorf("report of %s, which has no accepted result", key)
			continue
		case seen[key]:
			t.Errorf("second report of %s", key)
		}
		seen[key] = true
		states[ev.State]++
		if ev.Ref != r.Ref || string(ev.Metadata) != string(r.Metadata) || ev.ProviderMessageID != r.ProviderMessageID {
			t.Errorf("report of %s: ref %q metadata %s message id %q; result: %q %s %q", key, ev.Ref, ev.Metadata, ev.ProviderMessageID, r.Ref, r.Metadata, r.ProviderMessageID)
		}
		if ev.ReportedAt == nil || ev.ReportedAt.Sub(r.Time) < 300*time.Millisecond || ev.Time.Before(*ev.ReportedAt) {
			t.Errorf("report of %s at %v (reported %v) for a result at %v: before its delay", key, ev.Time, ev.ReportedAt, r.Time)
		}
	}
	if states[report.Delivered] == 0 || states[report.FallbackSent] == 0 || states[report.Delivered]+states[report.FallbackSent] != 2*n {
		t.Errorf("states %v: want delivered and fallback_sent only, both", states)
	}
	// Once the cursor is past the last result, nothing more is reported.
	rs, err := e.js.Stream(e.t.Context(), streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := rs.Info(e.t.Context())
	if err != nil {
		t.Fatal(err)
	}
	kv, err := e.js.KeyValue(e.t.Context(), streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the report cursor at the last result", func() bool {
		c, err := kv.Get(e.t.Context(), "cursor.sbx")
		return err == nil && string(c.Value()) == strconv.FormatUint(info.State.LastSeq, 10)
	})
	if got := e.streamCount(streams.ReportsStream); got != 2*n {
		t.Errorf("reports stream holds %d reports, want %d", got, 2*n)
	}
	// The second replica polled after the first stopped, and counted it.
	samples := scrape(t, second.HTTP.Addr)
	delivered, _ := find(samples, "talkrelay_reports_total", `account="sbx"`, `state="delivered"`)
	fallback, _ := find(samples, "talkrelay_reports_total", `account="sbx"`, `state="fallback_sent"`)
	if delivered+fallback == 0 {
		t.Errorf("the second replica counts no reports: talkrelay_reports_total delivered %v, fallback_sent %v", delivered, fallback)
	}
}

// stepClock is a clock the test moves on.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *stepClock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// With reports enabled on an NHN account, the worker polls NHN's result
// updates once their minute is settled and publishes each accepted
// recipient's report with the job's ref and metadata.
func TestNHNReportsThroughTheWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clk := &stepClock{t: time.Now().UTC().Truncate(time.Minute).Add(30 * time.Second)}
	api := nhnfake.New(t, nhnfake.WithClock(clk.Now))
	seedNHNSenders(api)
	acct := providerAccount(t, "nhn-main", "nhn", api.URL(), "", map[string]string{"secret_key": nhnfake.SecretKey},
		map[string]any{"app_key": nhnfake.AppKey})
	on := true
	acct.Reports = report.Config{Enabled: &on, Interval: 50 * time.Millisecond}
	e.startWith(e.config(acct), worker.Options{Providers: worker.Providers, Clock: clk})

	const n = 20
	j := &job.Job{Version: 1, ID: "nhn-rep.1", Account: "nhn-main", Kind: job.AlimTalk, Sender: "0123456789abcdef0123456789abcdef01234567",
		Template: "ORDER_SHIPPED", Metadata: json.RawMessage(`{"order":42}`)}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("c%d", i), Phone: fmt.Sprintf("010-4444-%04d", i),
			Content: "[Talkrelay] 주문하신 상품이 발송되었습니다."})
	}
	e.publishJob(j)
	for _, r := range e.results(n, 30*time.Second) {
		if r.Status != result.Accepted {
			t.Fatalf("result %+v, want accepted", r)
		}
	}
	api.EditRecords(func(r *nhnfake.Record) {
		if r.RecipientSeq == 4 {
			r.MessageStatus, r.ResultCode, r.ResendStatus = "FAILED", "3015", "RSC04"
		}
	})
	clk.add(3 * time.Minute) // the sends' minute is settled
	reports := e.reports(n, 30*time.Second)
	seen := map[int]bool{}
	for _, ev := range reports {
		want := report.Delivered
		if ev.RecipientIndex == 3 {
			want = report.FallbackSent
		}
		if ev.JobID != j.ID || seen[ev.RecipientIndex] || ev.State != want || ev.Ref != fmt.Sprintf("c%d", ev.RecipientIndex) ||
			string(ev.Metadata) != `{"order":42}` || ev.Provider != "nhn" || ev.Kind != "alimtalk" {
			t.Errorf("report %+v: want one %s report of %s with its ref and metadata", ev, want, j.ID)
		}
		seen[ev.RecipientIndex] = true
	}
}

// A bad polling setting stops the worker at start-up, naming the field.
func TestReportsConfigFailsAtStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sbx := sandboxAccount("s", nil)
	sbx.Reports.PageSize = -1
	for _, tc := range []struct {
		acct config.Account
		want string
	}{{sbx, "accounts.s.reports.page_size"}} {
		err := worker.Run(t.Context(), e.config(tc.acct), zerolog.Nop(), worker.Options{Providers: worker.Providers})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run error = %v, want one saying %q", err, tc.want)
		}
	}
}
