package dedupe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// env is a server with talkrelay's streams, the results stream allowing
// direct gets.
type env struct {
	srv *natstest.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue
}

func setup(t testing.TB) *env {
	t.Helper()
	srv := natstest.Run(t)
	nc, js := srv.JetStream(t)
	return setupOn(t, srv, nc, js)
}

func setupOn(t testing.TB, srv *natstest.Server, nc *nats.Conn, js jetstream.JetStream) *env {
	t.Helper()
	ctx := context.Background()
	natstest.EnsureStreams(t, js)
	// The results stream must allow direct gets; turn it on if the
	// streams package does not (yet).
	s, err := js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; !cfg.AllowDirect {
		cfg.AllowDirect = true
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := js.KeyValue(ctx, streams.SendsBucket)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, nc: nc, js: js, kv: kv}
}

func (e *env) result(t testing.TB, account, status, jobID string) {
	t.Helper()
	if _, err := e.js.Publish(context.Background(), streams.ResultSubject(account, status, jobID), []byte(`{"status":"`+status+`"}`)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) record(t testing.TB, jobID, rest string) {
	t.Helper()
	if _, err := e.kv.Put(context.Background(), JobKey(jobID)+"."+rest, []byte(`{"sends":[[0,1]]}`)); err != nil {
		t.Fatal(err)
	}
}

// counter counts the direct get requests sent to subjects under prefix.
type counter struct {
	nc  *nats.Conn
	sub *nats.Subscription
}

func countRequests(t testing.TB, srv *natstest.Server, prefix string) *counter {
	t.Helper()
	nc := srv.Connect(t)
	sub, err := nc.SubscribeSync(prefix + ".DIRECT.GET.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &counter{nc: nc, sub: sub}
}

// take returns the requests seen so far, by stream, and forgets them. The
// requests were answered, so the server has handed them to this connection
// before the Flush's PONG.
func (c *counter) take(t testing.TB) map[string]int {
	t.Helper()
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for {
		m, err := c.sub.NextMsg(0)
		if err != nil {
			return got
		}
		got[m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]]++
	}
}

func seen(t testing.TB, c *Checker, refs []Ref, now time.Time) []bool {
	t.Helper()
	got, err := findAny(c, context.Background(), refs, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(refs) {
		t.Fatalf("Find returned %d answers for %d refs", len(got), len(refs))
	}
	return got
}

func checkSeen(t testing.TB, refs []Ref, got []bool, want func(i int) bool) {
	t.Helper()
	bad := 0
	for i := range refs {
		if got[i] != want(i) {
			if bad++; bad <= 5 {
				t.Errorf("%+v: seen %v, want %v", refs[i], got[i], want(i))
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d wrong in all", bad)
	}
}

func TestJobKey(t *testing.T) {
	// The first 12 bytes of sha256("order-1"), as sha256sum prints them.
	if got, want := JobKey("order-1"), "0bafe22156d2698c143b8604"; got != want {
		t.Fatalf("JobKey = %q, want %q", got, want)
	}
	if JobKey("a") == JobKey("b") || len(JobKey("")) != 24 {
		t.Fatal("JobKey is not a 24-hex digest")
	}
}

// The filters a job's traces are looked up with are the ones their
// subjects map back to.
func TestTraceSubjectsMapToTheirJobsFilters(t *testing.T) {
	for _, id := range []string{"order-1", "campaign.7.job-3", "a"} {
		if got, want := sendsFilter(id), "$KV."+streams.SendsBucket+"."+JobKey(id)+".>"; got != want {
			t.Errorf("sendsFilter(%q) = %q, want %q", id, got, want)
		}
		for _, rest := range []string{"b.1", "e." + JobKey(id) + ".r0"} {
			if got, ok := sendsFilterOf("$KV." + streams.SendsBucket + "." + JobKey(id) + "." + rest); !ok || got != sendsFilter(id) {
				t.Errorf("record %s of %q maps to %q, %v; want %q", rest, id, got, ok, sendsFilter(id))
			}
		}
		if got, ok := resultsFilter(streams.ResultSubject("shop", "accepted", id)); !ok || got != streams.JobResultsFilter("shop", id) {
			t.Errorf("result of %q maps to %q, %v; want %q", id, got, ok, streams.JobResultsFilter("shop", id))
		}
	}
	for _, subj := range []string{"talkrelay.results.shop.accepted", "talkrelay.other.shop.accepted.x", "$KV.other.k.b"} {
		_, okR := resultsFilter(subj)
		_, okS := sendsFilterOf(subj)
		if okR || okS {
			t.Errorf("%s maps to a filter", subj)
		}
	}
}

func TestNoneSeen(t *testing.T) {
	e := setup(t)
	e.result(t, "shop", "accepted", "other-job")
	e.record(t, "other-job", "b.1")
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "order-1"}, {"shop", "order-2"}, {"mall", "other-job"}}
	got := seen(t, c, refs, time.Now())
	// other-job of mall has no result, but its id has a send record: send
	// records are keyed by job id alone.
	checkSeen(t, refs, got, func(i int) bool { return i == 2 })
}

func TestEmptyStreams(t *testing.T) {
	e := setup(t)
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "order-1"}}
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(int) bool { return false })
	if got := seen(t, c, nil, time.Now()); len(got) != 0 {
		t.Fatalf("no refs: %v", got)
	}
}

func TestSeenViaResult(t *testing.T) {
	e := setup(t)
	for _, st := range []string{"accepted", "failed", "rejected", "unknown"} {
		e.result(t, "shop", st, "job-"+st)
	}
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "job-accepted"}, {"shop", "job-failed"}, {"shop", "job-rejected"}, {"shop", "job-unknown"},
		{"shop", "job-other"}, {"mall", "job-accepted"}}
	got := seen(t, c, refs, time.Now())
	// The same id under another account left no result of that account.
	checkSeen(t, refs, got, func(i int) bool { return i < 4 })
}

func TestSeenViaSendRecord(t *testing.T) {
	e := setup(t)
	e.record(t, "job-b", "b.batch-7")
	e.record(t, "job-e", "e."+JobKey("job-e")+".r0")
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "job-b"}, {"shop", "job-e"}, {"shop", "job-none"}}
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(i int) bool { return i < 2 })
}

func TestDeletedSendRecordCounts(t *testing.T) {
	e := setup(t)
	e.record(t, "job-d", "b.1")
	if err := e.kv.Delete(context.Background(), JobKey("job-d")+".b.1"); err != nil {
		t.Fatal(err)
	}
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "job-d"}}
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(int) bool { return true })
}

func TestWindow(t *testing.T) {
	e := setup(t)
	e.result(t, "shop", "accepted", "job-r")
	e.record(t, "job-s", "b.1")
	c := New(e.nc, Options{Window: time.Hour})
	defer c.Close()
	refs := []Ref{{"shop", "job-r"}, {"shop", "job-s"}}
	// Within the window.
	checkSeen(t, refs, seen(t, c, refs, time.Now().Add(59*time.Minute)), func(int) bool { return true })
	// Stored more than the window before now.
	checkSeen(t, refs, seen(t, c, refs, time.Now().Add(61*time.Minute)), func(int) bool { return false })

	// The last message of a subject decides: a newer record within the
	// window makes the job seen again.
	time.Sleep(20 * time.Millisecond)
	cut := time.Now()
	time.Sleep(20 * time.Millisecond)
	e.record(t, "job-s", "b.2")
	got := seen(t, c, refs, cut.Add(time.Hour))
	checkSeen(t, refs, got, func(i int) bool { return i == 1 })
}

func TestDottedJobIDs(t *testing.T) {
	e := setup(t)
	e.result(t, "shop", "accepted", "order.2024.1")
	e.record(t, "order.2024.2", "b.1")
	// "order%2024%3" is no valid job id, so it cannot collide with the
	// token of "order.2024.3".
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "order.2024.1"}, {"shop", "order.2024.2"}, {"shop", "order.2024.3"}, {"shop", "order"}}
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(i int) bool { return i < 2 })
}

func TestInvalidJobID(t *testing.T) {
	e := setup(t)
	// A rejected job whose id is unusable has its result under "_".
	e.result(t, "shop", "rejected", "bad id!")
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "another bad id"}, {"shop", "bad id!"}}
	// Neither is told apart by its results; only send records, keyed by
	// the raw id, could say.
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(int) bool { return false })
	e.record(t, "bad id!", "b.1")
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(i int) bool { return i == 1 })
}

func TestAccountWithoutResults(t *testing.T) {
	e := setup(t)
	for i := range 20 {
		e.result(t, "shop", "accepted", fmt.Sprint("job-", i))
	}
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"quiet", "job-1"}, {"quiet", "job-2"}, {streams.NoAccount, "job-3"}}
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(int) bool { return false })
}

func TestDuplicateRefs(t *testing.T) {
	e := setup(t)
	e.result(t, "shop", "failed", "job-1")
	c := New(e.nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "job-1"}, {"shop", "job-2"}, {"shop", "job-1"}}
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(i int) bool { return i != 1 })
}

// TestManyRefsOneRequestPerStream checks 300 refs, some seen either way,
// cost one request to each stream.
func TestManyRefsOneRequestPerStream(t *testing.T) {
	e := setup(t)
	ctr := countRequests(t, e.srv, DefaultAPIPrefix)
	refs := make([]Ref, 300)
	want := make([]bool, 300)
	for i := range refs {
		refs[i] = Ref{Account: fmt.Sprint("acct-", i%7), JobID: fmt.Sprintf("campaign.%d.job-%d", i%3, i)}
		switch i % 5 {
		case 0:
			e.result(t, refs[i].Account, "accepted", refs[i].JobID)
			e.result(t, refs[i].Account, "failed", refs[i].JobID)
			want[i] = true
		case 1:
			e.record(t, refs[i].JobID, "b.x1")
			e.record(t, refs[i].JobID, "b.x2")
			want[i] = true
		case 2:
			// Same id under another account: a result does not count, a
			// send record would.
			e.result(t, "elsewhere", "accepted", refs[i].JobID)
		}
	}
	c := New(e.nc, Options{})
	defer c.Close()
	ctr.take(t)
	got := seen(t, c, refs, time.Now())
	checkSeen(t, refs, got, func(i int) bool { return want[i] })
	if n := ctr.take(t); n[streams.ResultsStream] != 1 || n[sendsStream] != 1 || len(n) != 2 {
		t.Fatalf("requests per stream: %v, want one each", n)
	}
}

// TestTooManyResults covers the server's cap of 1024 subjects per
// multi_last request: the refs are halved until each part fits, and a job
// with more send records than the cap is asked for on its own.
func TestTooManyResults(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// 300 jobs with a result under each of the four statuses: 1200
	// subjects.
	refs := make([]Ref, 301)
	for i := range 300 {
		refs[i] = Ref{"shop", fmt.Sprint("job-", i)}
		for _, st := range []string{"accepted", "failed", "rejected", "unknown"} {
			if _, err := e.js.PublishAsync(streams.ResultSubject("shop", st, refs[i].JobID), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One job sent in 1100 batches.
	big := "big-job"
	refs[300] = Ref{"shop", big}
	for b := range 1100 {
		if _, err := e.js.PublishAsync("$KV."+streams.SendsBucket+"."+JobKey(big)+".b."+fmt.Sprint(b), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("publishing timed out")
	}
	c := New(e.nc, Options{})
	defer c.Close()
	ctr := countRequests(t, e.srv, DefaultAPIPrefix)
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(int) bool { return true })
	n := ctr.take(t)
	t.Logf("requests: %v", n)
	// The results: 1200 subjects, refused, then two halves of 600. The
	// send records: the big job's half is halved until it stands alone
	// (9 levels for 301 refs, two requests each), then asked for by
	// next_by_subj.
	if n[streams.ResultsStream] != 3 || n[sendsStream] < 3 || n[sendsStream] > 1+2*9+1 {
		t.Fatalf("requests per stream: %v, want the results halved and the big job asked for alone", n)
	}
	// Outside the window the big job is not seen either.
	checkSeen(t, refs[300:], seen(t, c, refs[300:], time.Now().Add(2*time.Hour)), func(int) bool { return false })
}

// TestPaging covers an answer cut short by max_bytes: the rest is asked for
// from the last sequence returned.
func TestPaging(t *testing.T) {
	e := setup(t)
	refs := make([]Ref, 10)
	for i := range refs {
		refs[i] = Ref{"shop", fmt.Sprint("job-", i)}
		if i%2 == 0 {
			e.result(t, "shop", "accepted", refs[i].JobID)
		}
	}
	c := New(e.nc, Options{})
	defer c.Close()
	c.maxBytes = 1 // one message per answer
	ctr := countRequests(t, e.srv, DefaultAPIPrefix)
	// Results newer than the cutoff come after older ones: mark must
	// see every page.
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(i int) bool { return i%2 == 0 })
	if n := ctr.take(t); n[streams.ResultsStream] != 5 {
		t.Fatalf("requests: %v, want 5 pages from the results stream", n)
	}
}

func TestServerStopped(t *testing.T) {
	e := setup(t)
	e.result(t, "shop", "accepted", "job-1")
	c := New(e.nc, Options{Timeout: 300 * time.Millisecond})
	defer c.Close()
	refs := []Ref{{"shop", "job-1"}, {"shop", "job-2"}}
	seen(t, c, refs, time.Now())
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	got, err := findAny(c, context.Background(), refs, time.Now())
	if err == nil {
		t.Fatalf("server stopped: Find = %v, want an error", got)
	}
	if got != nil {
		t.Fatalf("Seen returned %v with error %v", got, err)
	}
	t.Log(err)
}

func TestStreamMissing(t *testing.T) {
	srv := natstest.Run(t)
	nc, js := srv.JetStream(t)
	c := New(nc, Options{})
	defer c.Close()
	refs := []Ref{{"shop", "job-1"}}
	if _, err := findAny(c, context.Background(), refs, time.Now()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no streams: err = %v, want ErrUnavailable", err)
	}
	// The results stream without direct gets answers no better.
	if err := streams.Ensure(context.Background(), js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.AllowDirect {
		t.Skip("the results stream allows direct gets")
	}
	_, err = findAny(c, context.Background(), refs, time.Now())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), streams.ResultsStream) {
		t.Fatalf("results without AllowDirect: err = %v", err)
	}
}

func TestContextCanceled(t *testing.T) {
	e := setup(t)
	c := New(e.nc, Options{})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := findAny(c, ctx, []Ref{{"shop", "job-1"}}, time.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestClosed(t *testing.T) {
	e := setup(t)
	c := New(e.nc, Options{})
	seen(t, c, []Ref{{"shop", "job-1"}}, time.Now())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := findAny(c, context.Background(), []Ref{{"shop", "job-1"}}, time.Now()); err == nil {
		t.Fatal("Seen after Close: no error")
	}
}

func TestDomain(t *testing.T) {
	srv := natstest.RunWith(t, server.Options{JetStreamDomain: "hub"})
	nc := srv.Connect(t)
	js, err := jetstream.NewWithDomain(nc, "hub")
	if err != nil {
		t.Fatal(err)
	}
	e := setupOn(t, srv, nc, js)
	e.result(t, "shop", "accepted", "job-1")
	e.record(t, "job-2", "b.1")
	const prefix = "$JS.hub.API"
	// The server maps $JS.hub.API.DIRECT.> to $JS.API.DIRECT.> before
	// delivering, so the requests are counted under the latter; the unknown
	// domain below shows that the prefix is what is sent.
	ctr := countRequests(t, srv, DefaultAPIPrefix)
	c := New(nc, Options{APIPrefix: prefix})
	defer c.Close()
	refs := []Ref{{"shop", "job-1"}, {"shop", "job-2"}, {"shop", "job-3"}}
	checkSeen(t, refs, seen(t, c, refs, time.Now()), func(i int) bool { return i < 2 })
	if n := ctr.take(t); n[streams.ResultsStream] != 1 || n[sendsStream] != 1 {
		t.Fatalf("requests under %s: %v", prefix, n)
	}
	// A domain that does not exist has no responders.
	other := New(nc, Options{APIPrefix: "$JS.spoke.API", Timeout: time.Second})
	defer other.Close()
	if _, err := findAny(other, context.Background(), refs, time.Now()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknown domain: err = %v, want ErrUnavailable", err)
	}
}

func TestConcurrentSeen(t *testing.T) {
	e := setup(t)
	for i := range 50 {
		e.result(t, "shop", "accepted", fmt.Sprint("job-", i))
	}
	c := New(e.nc, Options{})
	defer c.Close()
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for round := range 20 {
				refs := make([]Ref, 100)
				for i := range refs {
					refs[i] = Ref{"shop", fmt.Sprint("job-", (i+w+round)%100)}
				}
				got, err := findAny(c, context.Background(), refs, time.Now())
				if err != nil {
					errs <- err
					return
				}
				for i, s := range got {
					if want := (i+w+round)%100 < 50; s != want {
						errs <- fmt.Errorf("%v: seen %v", refs[i], s)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// findAny is Find as yes or no per ref: the tests' view.
func findAny(c *Checker, ctx context.Context, refs []Ref, now time.Time) ([]bool, error) {
	found, err := c.Find(ctx, refs, now)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(refs))
	for i, seqs := range found {
		out[i] = len(seqs) > 0
	}
	return out, nil
}
