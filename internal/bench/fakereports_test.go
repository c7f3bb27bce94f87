package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/naver"
	"github.com/talkrelay/talkrelay/internal/providers/nhn"
)

func startReportsFake(t *testing.T) *Fake {
	t.Helper()
	f, err := StartFake(0, false, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// The real NAVER adapter reads every message of a request the fake took
// as delivered, across pages, and a request it did not take as not
// reported yet.
func TestFakeNaverRequestList(t *testing.T) {
	t.Parallel()
	f := startReportsFake(t)
	msgs := strings.Repeat(`{"countryCode":"82","to":"01012345678","content":"x"},`, 150)
	post(t, f.URL()+"/alimtalk/v2/services/"+fakeServiceID+"/messages", `{"messages":[`+strings.TrimSuffix(msgs, ",")+`]}`)
	cfg := naver.DefaultConfig()
	cfg.ServiceID = fakeServiceID
	c, err := naver.NewClient(cfg, f.URL(), "ak", "sk", http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := c.RequestReports(context.Background(), "bench-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 150 {
		t.Fatalf("%d reports of a request of 150 messages", len(reps))
	}
	for i, r := range reps {
		if r.State != providers.ReportDelivered || r.MessageID != fmt.Sprintf("bench-1-%d", i) || r.RequestID != "bench-1" {
			t.Fatalf("report %d: %+v", i, r)
		}
	}
	if reps, err := c.RequestReports(context.Background(), "bench-2"); err != nil || len(reps) != 0 {
		t.Errorf("a request the fake did not take: %d reports, %v", len(reps), err)
	}
	if q := f.Stats().ReportQueries; q != 3 {
		t.Errorf("%d report queries counted, want 3 (two pages, one 404)", q)
	}
}

// The real NHN adapter reads, by update window and in pages, every
// recipient the fake took in that window, delivered, with the grouping
// key of its send and its position as recipientSeq; other windows and the
// other kind list nothing.
func TestFakeNHNResultUpdates(t *testing.T) {
	t.Parallel()
	f := startReportsFake(t)
	var b strings.Builder
	keys := []string{"job-a/0", "job-a/1", "job-a/2", "job-b/7", "job-b/8", "h-0123", "job-a/3"}
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"recipientNo":"01012345678","recipientGroupingKey":%q}`, k)
	}
	sent := time.Now()
	post(t, f.URL()+"/alimtalk/v2.3/appkeys/"+fakeAppKey+"/messages", `{"recipientList":[`+b.String()+`]}`)
	if runs := f.reports.nhn[0].keys; len(runs) != 4 {
		t.Errorf("keys kept as %+v, want 4 runs", runs)
	}
	p, err := nhn.New(providers.Spec{Account: "nhn-bench", BaseURL: f.URL(), Credentials: map[string]string{nhn.SecretKeyCredential: "sk"},
		DecodeOptions: func(into any) error { into.(*nhn.Config).AppKey = fakeAppKey; return nil }, HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	c := p.(*nhn.Client)
	from := sent.Truncate(time.Minute)
	var got []providers.Report
	for page := 1; page <= 3; page++ {
		rp, err := c.ReportPage(context.Background(), job.AlimTalk, from, from.Add(time.Minute), page, 3)
		if err != nil {
			t.Fatal(err)
		}
		if rp.Total != len(keys) {
			t.Fatalf("page %d: total %d, want %d", page, rp.Total, len(keys))
		}
		got = append(got, rp.Reports...)
		if page == 2 && (rp.Skipped != 1 || len(rp.Reports) != 2) {
			t.Errorf("page 2: %d reports, %d skipped; want the hashed key skipped", len(rp.Reports), rp.Skipped)
		}
	}
	want := []string{"job-a/0", "job-a/1", "job-a/2", "job-b/7", "job-b/8", "job-a/3"}
	seqs := []string{"1", "2", "3", "4", "5", "7"}
	if len(got) != len(want) {
		t.Fatalf("%d reports, want %d: %+v", len(got), len(want), got)
	}
	for i, r := range got {
		if k := fmt.Sprintf("%s/%d", r.JobID, r.Index); k != want[i] || r.State != providers.ReportDelivered || r.MessageID != seqs[i] || r.RequestID != "bench-1" {
			t.Errorf("report %d: %+v, want key %s, recipientSeq %s", i, r, want[i], seqs[i])
		}
	}
	for _, w := range []struct {
		kind job.Kind
		from time.Time
	}{{job.AlimTalk, from.Add(time.Minute)}, {job.FriendTalk, from}} {
		rp, err := c.ReportPage(context.Background(), w.kind, w.from, w.from.Add(time.Minute), 1, 1000)
		if err != nil || rp.Total != 0 || rp.Listed != 0 {
			t.Errorf("%s from %s: %+v, %v; want nothing", w.kind, w.from, rp, err)
		}
	}
}

func TestSplitKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]int{"job-a/12": 12, "a/b/0": 0, "h-abc": -1, "job/": -1, "/3": -1, "job/1x": -1} {
		if _, got := splitKey([]byte(key)); got != want {
			t.Errorf("splitKey(%q) index %d, want %d", key, got, want)
		}
	}
}

// A report names a recipient of the workload only by its exact job id
// and an index within the job.
func TestRecipientOf(t *testing.T) {
	t.Parallel()
	w := workload{prefix: "campaignrep", jobs: 20, recipients: 100}
	if i, ok := w.recipientOf("campaignrep-0000003", 7); !ok || i != 307 {
		t.Errorf("recipientOf = %d, %v; want 307", i, ok)
	}
	for _, c := range []struct {
		job   string
		index int
	}{{"campaignrep-0000020", 0}, {"campaignrep-0000003", 100}, {"campaignrep-3", 0}, {"campaign-0000003", 0}, {"campaignrep-0000003", -1}} {
		if _, ok := w.recipientOf(c.job, c.index); ok {
			t.Errorf("recipientOf(%q, %d) accepted", c.job, c.index)
		}
	}
}
