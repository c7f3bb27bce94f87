package report_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
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
	js := acceptedJobs(b, "sandbox", time.Now().Add(-time.Hour))
	ctx := context.Background()
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

// BenchmarkCorrelate measures what a provider's report costs to correlate
// (NAVER's and NHN's path, and NHN's webhook): one-recipient jobs, each
// report's job read once for its accepted result and once for its stored
// reports, a thousand reports a call, per report.
func BenchmarkCorrelate(b *testing.B) {
	js := acceptedJobs(b, "naver", time.Now())
	ctx := context.Background()
	reps := make([]providers.Report, b.N)
	for i := range reps {
		reps[i] = providers.Report{JobID: "bench-" + strconv.Itoa(i), Index: 0, State: providers.ReportDelivered, Code: "0000"}
	}
	store := reconcile.New(js, nil)
	b.ResetTimer()
	for from := 0; from < b.N; from += 1000 {
		evs, err := report.Correlate(ctx, store, "acct", "naver", job.AlimTalk, reps[from:min(b.N, from+1000)], time.Now())
		if err != nil || len(evs) != min(b.N-from, 1000) {
			b.Fatalf("%d events, %v", len(evs), err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}

// acceptedJobs stores the accepted results of b.N one-recipient jobs of
// account "acct", bench-0…, sent by provider at sent, on a new server.
func acceptedJobs(b *testing.B, provider string, sent time.Time) jetstream.JetStream {
	srv := natstest.Run(b)
	_, js := srv.JetStream(b)
	natstest.EnsureStreams(b, js)
	j := &job.Job{Version: 1, Account: "acct", Kind: job.AlimTalk, Metadata: json.RawMessage(`{"campaign":"bench"}`)}
	j.Recipients = []job.Recipient{{Ref: "r", Phone: "01012345678", Content: "hi"}}
	for i := range b.N {
		j.ID = "bench-" + strconv.Itoa(i)
		ev := result.ForRecipient(j, 0, provider, sent)
		ev.Status, ev.Reason = result.Accepted, result.ReasonOK
		data, _ := json.Marshal(ev)
		if _, err := js.PublishAsync(streams.ResultSubject("acct", "accepted", j.ID), data); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	return js
}
