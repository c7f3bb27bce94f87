package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/nhn"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/schemas"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// NHN's result updates, polled window by window through the fake, become
// one report per recipient in a terminal state, with the job's ref and
// metadata from the accepted results; recipients still waiting (receipt
// unconfirmed, fallback running) are reported once their result is
// updated, in a later window.
func TestNHNResultUpdatesBecomeReports(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	clk := &clock{t: time.Date(2026, 6, 20, 12, 0, 30, 0, time.UTC)}
	fake := nhnfake.New(t, nhnfake.WithClock(clk.now))
	p := nhnClient(t, fake, clk)
	const n = 40
	j := &job.Job{Version: 1, ID: "nj.1", Account: "nhnacct", Kind: job.AlimTalk, Sender: "0123456789abcdef0123456789abcdef01234567",
		Template: "T1", Metadata: json.RawMessage(`{"order":7}`)}
	b := &providers.Batch{ID: "b1", Key: providers.Key{Account: "nhnacct", Kind: job.AlimTalk, Sender: j.Sender, Template: "T1"}}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("r%d", i), Phone: fmt.Sprintf("010%08d", i), Content: "hello"})
	}
	for i := range n {
		b.Messages = append(b.Messages, providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1})
	}
	outs, err := p.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outs { // the worker's accepted results
		ev := result.ForRecipient(j, i, "nhn", clk.now())
		ev.Status, ev.Reason, ev.ProviderMessageID = result.Accepted, result.ReasonOK, o.MessageID
		data, _ := json.Marshal(ev)
		if _, err := js.Publish(context.Background(), streams.ResultSubject("nhnacct", "accepted", j.ID), data); err != nil {
			t.Fatal(err)
		}
	}
	// The rest delivered; 30 failed; 31 fallback sent; 32 fallback failed;
	// 33 receipt unconfirmed, 34 fallback running: not yet terminal.
	fake.EditRecords(func(r *nhnfake.Record) {
		switch r.RecipientSeq - 1 {
		case 30:
			r.MessageStatus, r.ResultCode, r.ResendStatus = "FAILED", "3018", "RSC01"
		case 31:
			r.MessageStatus, r.ResultCode, r.ResendStatus = "FAILED", "3015", "RSC04"
		case 32:
			r.MessageStatus, r.ResultCode, r.ResendStatus = "FAILED", "3015", "RSC05"
		case 33:
			r.ResultCode = "3005"
		case 34:
			r.MessageStatus, r.ResultCode, r.ResendStatus = "FAILED", "3015", "RSC03"
		}
	})
	kv, err := js.KeyValue(context.Background(), streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	cfg := report.Config{Interval: 20 * time.Millisecond, PageSize: 7, Lease: time.Second}
	cfg.Defaults()
	// The window starts where polling starts: the minute of the sends.
	clk.t = clk.t.Add(-2 * time.Minute)
	src := &report.Window{Reporter: p.(providers.WindowReporter), Kind: job.AlimTalk, Account: "nhnacct", Provider: "nhn",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: reconcile.New(js, nil), Now: clk.now}
	first, err := src.Poll(context.Background(), nil, 7)
	if err != nil || len(first.Reports) != 0 {
		t.Fatalf("first poll: %v, %d reports", err, len(first.Reports))
	}
	if _, err := kv.Create(context.Background(), "cursor.nhnacct.alimtalk", first.Next); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Minute) // back at the sends: their minute is not settled yet
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&report.Poller{Name: "nhnacct.alimtalk", Source: src, JS: js, KV: kv, Config: cfg, Holder: "h",
			Log: zerolog.New(zerolog.NewTestWriter(t)), Now: time.Now}).Run(ctx)
	}()
	clk.add(3 * time.Minute) // the sends' minute is settled
	reportsOf(t, js, n-2)
	// Later: the receipt arrives, the fallback completes.
	fake.EditRecords(func(r *nhnfake.Record) {
		switch r.RecipientSeq - 1 {
		case 33:
			r.ResultCode, r.UpdateDate = "1000", "2026-06-20 21:06:10"
		case 34:
			r.ResendStatus, r.UpdateDate = "RSC05", "2026-06-20 21:07:10"
		}
	})
	clk.add(7 * time.Minute)
	got := reportsOf(t, js, n)
	cancel()
	<-done

	want := map[int]report.State{30: report.Failed, 31: report.FallbackSent, 32: report.FallbackFailed, 33: report.Delivered, 34: report.FallbackFailed}
	for i := range n {
		ev, ok := got[i]
		if !ok {
			t.Errorf("recipient %d: no report", i)
			continue
		}
		st, special := want[i]
		if !special {
			st = report.Delivered
		}
		if ev.State != st || ev.Ref != fmt.Sprintf("r%d", i) || string(ev.Metadata) != `{"order":7}` || ev.Phone == "" || ev.ProviderMessageID == "" {
			t.Errorf("recipient %d: %+v, want state %s with ref, phone, metadata and message id", i, ev, st)
		}
	}
	if ev := got[33]; ev.Code != "1000" {
		t.Errorf("recipient 33 reported with code %q before its receipt came", ev.Code)
	}
	if ev := got[30]; ev.Code != "3018" {
		t.Errorf("failed report has code %q, want the provider's 3018", ev.Code)
	}
	if ev := got[32]; ev.Fallback == nil || ev.Fallback.Code != "RSC05" {
		t.Errorf("fallback_failed report without its fallback: %+v", ev)
	}
}

// reportsOf waits for n reports of job nj.1 and returns them by index,
// failing on a second report of a recipient or one that breaks the schema.
func reportsOf(t *testing.T, js jetstream.JetStream, n int) map[int]report.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, streams.ReportsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]report.Event{}
	for len(got) < n {
		msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("%d of %d reports: %v", len(got), n, err)
		}
		if err := schemas.ValidateReport(msg.Data()); err != nil {
			t.Errorf("report breaks the schema: %v\n%s", err, msg.Data())
		}
		var ev report.Event
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[ev.RecipientIndex]; dup {
			t.Errorf("second report of recipient %d", ev.RecipientIndex)
		}
		got[ev.RecipientIndex] = ev
	}
	return got
}

// nhnClient is account nhnacct's NHN client of fake, on clk.
func nhnClient(t *testing.T, fake *nhnfake.Fake, clk *clock) providers.Provider {
	t.Helper()
	p, err := nhn.New(providers.Spec{Account: "nhnacct", BaseURL: fake.URL(),
		Credentials: map[string]string{nhn.SecretKeyCredential: nhnfake.SecretKey},
		DecodeOptions: func(into any) error {
			into.(*nhn.Config).AppKey = nhnfake.AppKey
			return nil
		}, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nhnSend sends n AlimTalk recipients of job id through p, in requests of
// at most 600.
func nhnSend(t *testing.T, p providers.Provider, id string, n int) {
	t.Helper()
	j := &job.Job{Version: 1, ID: id, Account: "nhnacct", Kind: job.AlimTalk, Sender: "0123456789abcdef0123456789abcdef01234567", Template: "T1"}
	for i := range n {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: fmt.Sprintf("010%08d", i), Content: "hello"})
	}
	for from := 0; from < n; from += 600 {
		b := &providers.Batch{ID: fmt.Sprintf("%s-%d", id, from), Key: providers.Key{Account: "nhnacct", Kind: job.AlimTalk, Sender: j.Sender, Template: "T1"}}
		for i := from; i < min(n, from+600); i++ {
			b.Messages = append(b.Messages, providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1})
		}
		if _, err := p.Send(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// pageCounter counts a WindowReporter's page requests, calling before,
// when set, with the count before each.
type pageCounter struct {
	providers.WindowReporter
	pages  int
	before func(n int)
}

func (c *pageCounter) ReportPage(ctx context.Context, kind job.Kind, from, to time.Time, page, size int) (*providers.ReportPage, error) {
	c.pages++
	if c.before != nil {
		c.before(c.pages)
	}
	return c.WindowReporter.ReportPage(ctx, kind, from, to, page, size)
}

// A minute of 1,200 updates in pages of 10 (120 pages) is read across
// polls of at most 50 pages, from a cursor of the form written before
// windows were read across polls. Entries that come into a minute being
// read (the listing grew: read again from its first page) and entries
// that leave it while a poll reads it (updated again: the rest move up
// the listing, and the poll reads a page twice) lose
// nobody and report nobody twice, there or in the later windows they
// moved to.
func TestNHNBusyMinuteReadAcrossPolls(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 20, 12, 0, 30, 0, time.UTC)} // 21:00:30 KST
	fake := nhnfake.New(t, nhnfake.WithClock(clk.now))
	p := nhnClient(t, fake, clk)
	nhnSend(t, p, "first", 1200)
	clk.add(time.Minute)
	nhnSend(t, p, "second", 1200)
	clk.add(time.Minute)
	nhnSend(t, p, "late", 20)
	pages := &pageCounter{WindowReporter: p.(providers.WindowReporter)}
	src := &report.Window{Reporter: pages, Kind: job.AlimTalk, Account: "nhnacct", Provider: "nhn",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: reconcile.New(js, nil), Now: clk.now}
	reported := map[string]int{}
	// poll polls until the source has nothing more ready, storing each
	// page's reports before the next poll, and calls between(n) after the
	// nth poll; it returns the last cursor and how many polls it took.
	poll := func(cursor []byte, between func(n int)) ([]byte, int) {
		t.Helper()
		for n := 1; ; n++ {
			pages.pages = 0
			page, err := src.Poll(ctx, cursor, 10)
			if err != nil {
				t.Fatalf("poll %d: %v", n, err)
			}
			if pages.pages > 50 {
				t.Fatalf("poll %d asked %d pages, more than 50", n, pages.pages)
			}
			if err := report.Publish(ctx, js, page.Reports); err != nil {
				t.Fatal(err)
			}
			for _, ev := range page.Reports {
				reported[fmt.Sprintf("%s/%d", ev.JobID, ev.RecipientIndex)]++
			}
			if cursor = page.Next; !page.More {
				return cursor, n
			}
			between(n)
		}
	}
	move := func(to string, keys ...string) {
		fake.EditRecords(func(r *nhnfake.Record) {
			if slices.Contains(keys, r.RecipientGroupingKey) {
				r.UpdateDate = to
			}
		})
	}
	clk.add(time.Minute) // 12:03:30: the minute from 12:00 is settled, the one from 12:01 not yet
	cursor, polls := poll([]byte(`{"from":"2026-06-20T12:00:00Z"}`), func(n int) {
		if n == 1 { // 500 read; three of a later minute come in at the start
			move("2026-06-20 21:00:00", "late/0", "late/1", "late/2")
		}
	})
	if polls < 3 || len(reported) != 1203 {
		t.Fatalf("the first minute: %d polls, %d reported; want its 1,200 and the 3 that came in, over 3 polls or more", polls, len(reported))
	}
	clk.add(time.Minute) // the minute from 12:01 is settled
	moved := false
	pages.before = func(n int) {
		if n == 30 && !moved { // 290 read in this poll; five of them are updated again, moving to 12:05
			move("2026-06-20 21:05:00", "second/0", "second/1", "second/2", "second/3", "second/4")
			moved = true
		}
	}
	cursor, _ = poll(cursor, func(int) {})
	pages.before = nil
	if len(reported) != 2403 {
		t.Fatalf("the second minute: %d reported in all, want 2,403", len(reported))
	}
	clk.add(4 * time.Minute) // 12:08:30: the later minutes settled, with the moved entries
	poll(cursor, func(int) {})
	for job, n := range map[string]int{"first": 1200, "second": 1200, "late": 20} {
		for i := range n {
			if got := reported[fmt.Sprintf("%s/%d", job, i)]; got != 1 {
				t.Errorf("%s/%d reported %d times", job, i, got)
			}
		}
	}
}

// slowPages is a WindowReporter of a window of 100 pages of entries that
// are not terminal, whose first page is answered once half the time its
// context had left has passed.
type slowPages struct{ pages int }

func (s *slowPages) ReportKinds() []job.Kind { return []job.Kind{job.AlimTalk} }
func (s *slowPages) ReportLimits() (time.Duration, time.Duration, int) {
	return time.Minute, time.Hour, 1000
}
func (s *slowPages) ReportPage(ctx context.Context, kind job.Kind, from, to time.Time, page, size int) (*providers.ReportPage, error) {
	if s.pages++; s.pages == 1 {
		start := time.Now()
		dl, _ := ctx.Deadline()
		for time.Since(start) <= dl.Sub(start)/2 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return &providers.ReportPage{Listed: size, Total: 100 * size, Skipped: size}, nil
}

// A poll whose pages come slowly stops reading once half its time is
// spent and saves where it stopped, instead of outlasting its context
// (the poller's lease) and failing every time.
func TestWindowPollStopsAtHalfItsTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	slow := &slowPages{}
	now := time.Date(2026, 6, 20, 12, 3, 30, 0, time.UTC)
	src := &report.Window{Reporter: slow, Kind: job.AlimTalk, Account: "nhnacct", Provider: "nhn",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Now: func() time.Time { return now }}
	page, err := src.Poll(ctx, []byte(`{"from":"2026-06-20T12:00:00Z"}`), 10)
	if err != nil {
		t.Fatal(err)
	}
	if slow.pages != 1 || !page.More || string(page.Next) != `{"from":"2026-06-20T12:00:00Z","to":"2026-06-20T12:01:00Z","page":2,"size":10,"total":1000}` {
		t.Fatalf("%d pages read, page %+v (cursor %s); want the first alone, the cursor at the second", slow.pages, page, page.Next)
	}
}
