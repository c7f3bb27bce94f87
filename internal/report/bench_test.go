package report_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// BenchmarkSandboxReports measures what reporting costs off the send
// path: reading an account's accepted results a page at a time and
// publishing one report each (the sandbox's and the expiry poller's
// work), per report.
func BenchmarkSandboxReports(b *testing.B) {
	srv := natstest.Run(b)
	_, js := srv.JetStream(b)
	natstest.EnsureStreams(b, js)
	ctx := context.Background()
	j := &job.Job{Version: 1, Account: "acct", Kind: job.AlimTalk, Metadata: json.RawMessage(`{"campaign":"bench"}`)}
	j.Recipients = []job.Recipient{{Ref: "r", Phone: "01012345678", Content: "hi"}}
	sent := time.Now().Add(-time.Hour)
	for i := range b.N {
		j.ID = "bench-" + strconv.Itoa(i)
		ev := result.ForRecipient(j, 0, "sandbox", sent)
		ev.Status, ev.Reason = result.Accepted, result.ReasonOK
		data, _ := json.Marshal(ev)
		if _, err := js.PublishAsync(streams.ResultSubject("acct", "accepted", j.ID), data); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	src := &report.Sandbox{Store: reconcile.New(js, nil), Account: "acct", FallbackRate: 0.1, Now: time.Now}
	b.ResetTimer()
	var cursor []byte
	for done := 0; done < b.N; {
		page, err := src.Poll(ctx, cursor, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if err := report.Publish(ctx, js, page.Reports); err != nil {
			b.Fatal(err)
		}
		done += len(page.Reports)
		cursor = page.Next
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}
