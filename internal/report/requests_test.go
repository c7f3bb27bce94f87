package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/naver"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// byRequest is a RequestReporter answering from a map of terminal
// reports by request id, counting the requests asked.
type byRequest struct {
	mu    sync.Mutex
	reps  map[string][]providers.Report
	asked []string
	// delay, when set, is how long each request takes to answer.
	delay time.Duration
}

func (b *byRequest) ReportKinds() []job.Kind { return []job.Kind{job.AlimTalk} }
func (b *byRequest) RequestReports(ctx context.Context, id string) ([]providers.Report, error) {
	time.Sleep(b.delay)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked = append(b.asked, id)
	return b.reps[id], nil
}
func (b *byRequest) MessageReport(ctx context.Context, id string) (providers.Report, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked = append(b.asked, "message "+id)
	for _, r := range b.reps[""] {
		if r.MessageID == id {
			return r, true, nil
		}
	}
	return providers.Report{}, false, nil
}

// NAVER's reports are correlated through the accepted results: a request
// is asked once Settle has passed, its terminal messages are reported
// with what their results say, the rest are asked again after Recheck,
// and a recipient that has a report already gets none. A message whose
// result has no request id is asked about alone.
func TestRequestsCorrelateThroughAcceptedResults(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	ctx := context.Background()
	sent := time.Date(2026, 6, 20, 3, 0, 0, 0, time.UTC)
	j := &job.Job{Version: 1, ID: "n.1", Account: "acct", Kind: job.AlimTalk, Metadata: json.RawMessage(`{"k":1}`)}
	for range 5 {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: "01012345678", Content: "hi"})
	}
	for i := range j.Recipients {
		ev := result.ForRecipient(j, i, "naver", sent)
		ev.Status, ev.Reason = result.Accepted, result.ReasonOK
		// Recipients 0-2 went in request RQ-1, 3 in RQ-2.
		ev.ProviderRequestID, ev.ProviderMessageID = "RQ-1", fmt.Sprintf("M-%d", i)
		switch i {
		case 3:
			ev.ProviderRequestID = "RQ-2"
		case 4: // accepted by a lookup that gave no request id
			ev.ProviderRequestID = ""
		}
		data, _ := json.Marshal(ev)
		if _, err := js.Publish(ctx, streams.ResultSubject("acct", "accepted", j.ID), data); err != nil {
			t.Fatal(err)
		}
	}
	// Recipient 2 was reported (expired) already.
	if err := report.Publish(ctx, js, []*report.Event{{Version: report.Version, JobID: j.ID, RecipientIndex: 2,
		Account: "acct", Provider: "naver", State: report.Expired, Time: sent}}); err != nil {
		t.Fatal(err)
	}
	naver := &byRequest{reps: map[string][]providers.Report{
		"RQ-1": {{MessageID: "M-0", State: providers.ReportDelivered, Code: "0000"},
			{MessageID: "M-2", State: providers.ReportDelivered, Code: "0000"}},
		"": {{MessageID: "M-4", State: providers.ReportFailed, Code: "3018"}},
	}}
	now := sent
	src := &report.Requests{Reporter: naver, JS: js, Account: "acct", Provider: "naver",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: reconcile.New(js, nil),
		Settle: 10 * time.Second, Recheck: time.Minute, Horizon: time.Hour, Now: func() time.Time { return now }}

	page, err := src.Poll(ctx, nil, 100)
	if err != nil || len(page.Reports) != 0 || string(page.Next) != `{"seq":5}` {
		t.Fatalf("a new cursor: %v, %+v; want it at the end of the results", err, page)
	}
	page, err = src.Poll(ctx, []byte(`{"seq":0}`), 100)
	if err != nil || len(page.Reports) != 0 || len(naver.asked) != 0 {
		t.Fatalf("before Settle: %v, %d reports, asked %v; want none asked", err, len(page.Reports), naver.asked)
	}
	cursor := page.Next
	now = now.Add(10 * time.Second)
	page, err = src.Poll(ctx, cursor, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Reports) != 2 || page.Reports[0].RecipientIndex != 0 || page.Reports[0].State != report.Delivered ||
		string(page.Reports[0].Metadata) != `{"k":1}` || page.Reports[0].ProviderMessageID != "M-0" ||
		page.Reports[1].RecipientIndex != 4 || page.Reports[1].State != report.Failed {
		t.Fatalf("after Settle: %+v; want recipient 0 delivered with its result's metadata (2 has a report), 4 failed", page.Reports)
	}
	if fmt.Sprint(naver.asked) != "[RQ-1 RQ-2 message M-4]" {
		t.Fatalf("asked %v, want each request once and the message without one alone", naver.asked)
	}
	cursor = page.Next
	naver.reps["RQ-1"] = append(naver.reps["RQ-1"], providers.Report{MessageID: "M-1", State: providers.ReportFallbackSent, FallbackCode: "0"})
	now = now.Add(30 * time.Second)
	if page, err = src.Poll(ctx, cursor, 100); err != nil || len(page.Reports) != 0 || len(naver.asked) != 3 {
		t.Fatalf("before Recheck: %v, %+v, asked %v; want nothing asked", err, page, naver.asked)
	}
	now = now.Add(30 * time.Second)
	page, err = src.Poll(ctx, cursor, 100)
	if err != nil || len(page.Reports) != 1 || page.Reports[0].RecipientIndex != 1 || page.Reports[0].State != report.FallbackSent ||
		page.Reports[0].Fallback == nil {
		t.Fatalf("after Recheck: %v, %+v; want recipient 1 fallback_sent", err, page)
	}
	if string(page.Next) != `{"seq":5,"n":5,"pending":[{"r":"RQ-2","k":"alimtalk","s":1781924400,"d":1781924530,"l":4,"m":[{"m":"M-3","j":"n.1","i":3}]}]}` {
		t.Errorf("cursor %s: want RQ-2 alone open", page.Next)
	}
	now = now.Add(2 * time.Hour)
	if page, err = src.Poll(ctx, page.Next, 100); err != nil || string(page.Next) != `{"seq":5,"n":5}` {
		t.Fatalf("past the horizon: %v, %+v; want RQ-2 dropped, left to Expiry", err, page)
	}
}

// A walk behind the stream (a campaign's accepted results stored before
// the poller reads them, 100 a poll, from NAVER requests of 100 stored
// three at a time interleaved, as by concurrent sends) asks each request
// once: one question per 100 recipients, every recipient reported once.
func TestNAVERRequestAskedOnceWhenTheWalkIsBehind(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 20, 3, 0, 0, 0, time.UTC)} // the sends' time
	api := naverfake.New(t, naverfake.WithClock(clk.now))
	api.AddChannel(naverfake.Channel{ChannelID: "@shop"})
	api.AddTemplate(naverfake.Template{ChannelID: "@shop", Code: "T"})
	cfg := naver.DefaultConfig()
	cfg.ServiceID = naverfake.ServiceID
	c, err := naver.NewClient(cfg, api.URL(), naverfake.AccessKey, naverfake.SecretKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Now = clk.now
	const requests, size = 30, 100
	accepted := make([][][]byte, requests)
	for r := range requests {
		j := &job.Job{Version: 1, ID: fmt.Sprintf("c.%d", r), Account: "acct", Kind: job.AlimTalk, Sender: "@shop", Template: "T"}
		for i := range size {
			j.Recipients = append(j.Recipients, job.Recipient{Phone: fmt.Sprintf("010%04d%04d", r, i), Content: "hi"})
		}
		outs, err := c.Send(ctx, providertest.Batch(j, size))
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			ev := result.ForRecipient(j, i, "naver", clk.now())
			ev.Status, ev.Reason, ev.ProviderRequestID, ev.ProviderMessageID = result.Accepted, result.ReasonOK, o.RequestID, o.MessageID
			data, _ := json.Marshal(ev)
			accepted[r] = append(accepted[r], data)
		}
	}
	for g := 0; g < requests; g += 3 {
		for i := range size {
			for r := g; r < g+3; r++ {
				if _, err := js.PublishAsync(streams.ResultSubject("acct", "accepted", fmt.Sprintf("c.%d", r)), accepted[r][i]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("results not stored")
	}
	clk.add(time.Minute) // every message delivered, every request due
	src := &report.Requests{Reporter: c, JS: js, Account: "acct", Provider: "naver",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: reconcile.New(js, nil),
		Settle: 10 * time.Second, Recheck: time.Minute, Horizon: time.Hour, Now: clk.now}
	reported := map[string]int{}
	for cursor := []byte(`{"seq":0}`); ; {
		page, err := src.Poll(ctx, cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := report.Publish(ctx, js, page.Reports); err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Reports {
			reported[fmt.Sprintf("%s/%d", ev.JobID, ev.RecipientIndex)]++
		}
		if cursor = page.Next; !page.More {
			break
		}
	}
	for r := range requests {
		for i := range size {
			if n := reported[fmt.Sprintf("c.%d/%d", r, i)]; n != 1 {
				t.Errorf("c.%d/%d reported %d times", r, i, n)
			}
		}
	}
	asked := api.Lookups()
	t.Logf("%d questions for %d recipients: %.4f a recipient", asked, requests*size, float64(asked)/float64(requests*size))
	if asked != requests {
		t.Errorf("%d questions for %d requests, want one each", asked, requests)
	}
}

// A poll whose requests are slow asks no more once half its time is
// spent, and stores what it has: the next poll asks the rest, instead of
// every poll outlasting its deadline and moving nothing on.
func TestRequestsPollStopsAtHalfItsTime(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	ctx := context.Background()
	sent := time.Date(2026, 6, 20, 3, 0, 0, 0, time.UTC)
	j := &job.Job{Version: 1, ID: "slow.1", Account: "acct", Kind: job.AlimTalk}
	naver := &byRequest{reps: map[string][]providers.Report{}, delay: 300 * time.Millisecond}
	for i := range 4 {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: "01012345678", Content: "hi"})
		ev := result.ForRecipient(j, i, "naver", sent)
		ev.Status, ev.Reason = result.Accepted, result.ReasonOK
		ev.ProviderRequestID, ev.ProviderMessageID = fmt.Sprintf("RQ-%d", i), fmt.Sprintf("M-%d", i)
		naver.reps[ev.ProviderRequestID] = []providers.Report{{MessageID: ev.ProviderMessageID, State: providers.ReportDelivered, Code: "0000"}}
		data, _ := json.Marshal(ev)
		if _, err := js.Publish(ctx, streams.ResultSubject("acct", "accepted", j.ID), data); err != nil {
			t.Fatal(err)
		}
	}
	src := &report.Requests{Reporter: naver, JS: js, Account: "acct", Provider: "naver",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: reconcile.New(js, nil),
		Settle: 10 * time.Second, Recheck: time.Minute, Horizon: time.Hour, Now: func() time.Time { return sent.Add(time.Minute) }}
	cursor := []byte(`{"seq":0}`)
	reported := 0
	for polls := 1; reported < 4; polls++ {
		if polls > 4 {
			t.Fatalf("%d of 4 recipients reported after 4 polls", reported)
		}
		pctx, cancel := context.WithTimeout(ctx, 1200*time.Millisecond)
		page, err := src.Poll(pctx, cursor, 100)
		cancel()
		if err != nil {
			t.Fatalf("poll %d: %v", polls, err)
		}
		if len(page.Reports) == 4 {
			t.Fatal("one poll asked all four slow requests: past half its time")
		}
		reported += len(page.Reports)
		cursor = page.Next
	}
}
