package report_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// listSource serves n reports of job "j" in pages; its cursor is the
// index of the next report. gate, when set, is called before each page
// and may block (a replica that hangs).
type listSource struct {
	n     int
	calls atomic.Int64
	gate  func(ctx context.Context, from int) error
	// complete, when set, becomes each non-empty page's Complete.
	complete func(ctx context.Context, from, to int) error
}

func (s *listSource) Poll(ctx context.Context, cursor []byte, limit int) (*report.Page, error) {
	s.calls.Add(1)
	from := 0
	if len(cursor) > 0 {
		var err error
		if from, err = strconv.Atoi(string(cursor)); err != nil {
			return nil, err
		}
	}
	if s.gate != nil {
		if err := s.gate(ctx, from); err != nil {
			return nil, err
		}
	}
	to := min(s.n, from+limit)
	page := &report.Page{Next: []byte(strconv.Itoa(to)), More: to < s.n}
	for i := from; i < to; i++ {
		page.Reports = append(page.Reports, &report.Event{Version: report.Version, JobID: "j", RecipientIndex: i,
			Account: "acct", Provider: "fake", State: report.Delivered, Time: time.Now()})
	}
	if s.complete != nil && to > from {
		page.Complete = func(ctx context.Context) error { return s.complete(ctx, from, to) }
	}
	return page, nil
}

func newPoller(t *testing.T, js jetstream.JetStream, holder string, src report.Source) *report.Poller {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	cfg := report.Config{Interval: 20 * time.Millisecond, PageSize: 7, Lease: time.Second}
	cfg.Defaults()
	return &report.Poller{Name: "acct", Source: src, JS: js, KV: kv, Config: cfg, Holder: holder, Log: zerolog.New(zerolog.NewTestWriter(t)), Now: time.Now}
}

// storedReports returns how many reports each recipient of job "j" has
// in the stream, and the total.
func storedReports(t *testing.T, js jetstream.JetStream) (map[int]int, int) {
	t.Helper()
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, streams.ReportsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, streams.ReportsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	per := map[int]int{}
	total := int(info.State.Msgs)
	for got := 0; got < total; {
		batch, err := c.Fetch(total-got, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got++
			var idx int
			if _, err := fmt.Sscanf(m.Headers().Get(jetstream.MsgIDHeader), "report/j/%d", &idx); err != nil {
				t.Fatal(err)
			}
			per[idx]++
		}
	}
	return per, total
}

func waitCursor(t *testing.T, js jetstream.JetStream, want string) {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(context.Background(), "cursor.acct")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	for e := range w.Updates() {
		if e != nil && string(e.Value()) == want {
			return
		}
	}
}

func exactlyOnce(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	per, total := storedReports(t, js)
	if total != n {
		t.Errorf("%d reports stored, want %d", total, n)
	}
	for i := range n {
		if per[i] != 1 {
			t.Errorf("recipient %d has %d reports, want 1", i, per[i])
		}
	}
}

// Two replicas poll one account: the one holding the lease hangs in the
// middle of a poll (a replica stopped, not shut down: its lease is not
// given up); the other takes over when the lease runs out and goes on
// from the saved cursor. When the hung one wakes up and stores its stale
// page, nothing is stored twice and the cursor does not move back.
func TestTakeoverContinuesFromCursor(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	const n, hangAt = 100, 21
	cursors := watchCursor(t, js)

	hung, wake, back := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var hangOnce, backOnce sync.Once
	first := &listSource{n: n, gate: func(ctx context.Context, from int) error {
		switch from {
		case hangAt:
			hangOnce.Do(func() { close(hung); <-wake })
		case n:
			backOnce.Do(func() { close(back) })
		}
		return nil
	}}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	done1 := make(chan struct{})
	go func() { defer close(done1); newPoller(t, js, "replica-1", first).Run(ctx1) }()
	<-hung

	second := &listSource{n: n}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { defer close(done2); newPoller(t, js, "replica-2", second).Run(ctx2) }()
	waitCursor(t, js, strconv.Itoa(n))
	close(wake) // replica-1 stores its stale page [21, 28)
	cancel2()   // replica-2 gives its lease up: replica-1 takes it back
	<-done2
	<-back // replica-1 polls again, from the saved cursor
	cancel1()
	<-done1

	exactlyOnce(t, js, n)
	if second.calls.Load() == 0 {
		t.Fatal("the second replica never polled")
	}
	last := 0
	for _, c := range cursors() {
		v, _ := strconv.Atoi(c)
		if v < last {
			t.Errorf("the cursor moved back from %d to %d: %v", last, v, cursors())
		}
		last = v
	}
}

// watchCursor records every value of the account's cursor.
func watchCursor(t *testing.T, js jetstream.JetStream) func() []string {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(context.Background(), "cursor.acct")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	var mu sync.Mutex
	var seen []string
	go func() {
		for e := range w.Updates() {
			if e != nil {
				mu.Lock()
				seen = append(seen, string(e.Value()))
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// A provider that hands reports out until they are completed (Kakao): the
// completion call comes only after the reports are stored, and a poller
// that dies between storing and completing loses and duplicates nothing.
func TestCompleteAfterStoreAndKillBetween(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	const n = 30

	var mu sync.Mutex
	completed := map[int]bool{}
	var failed atomic.Bool
	src := &listSource{n: n}
	src.complete = func(ctx context.Context, from, to int) error {
		per, _ := storedReports(t, js)
		mu.Lock()
		defer mu.Unlock()
		for i := from; i < to; i++ {
			if per[i] != 1 {
				t.Errorf("recipient %d completed with %d reports stored", i, per[i])
			}
		}
		if from == 14 && failed.CompareAndSwap(false, true) {
			return errors.New("worker killed before the completion call")
		}
		for i := from; i < to; i++ {
			completed[i] = true
		}
		return nil
	}
	// Like Kakao, the source gives out again whatever was not completed.
	src.gate = func(ctx context.Context, from int) error { return nil }
	kakaoLike := &uncompleted{listSource: src, completed: completed, mu: &mu}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); newPoller(t, js, "replica-1", kakaoLike).Run(ctx) }()
	waitCompleted := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(completed) == n
	}
	for !waitCompleted() {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if !failed.Load() {
		t.Fatal("the completion call never failed")
	}
	exactlyOnce(t, js, n)
}

// uncompleted polls from the first report not completed, whatever the
// cursor says.
type uncompleted struct {
	*listSource
	completed map[int]bool
	mu        *sync.Mutex
}

func (u *uncompleted) Poll(ctx context.Context, _ []byte, limit int) (*report.Page, error) {
	u.mu.Lock()
	from := 0
	for u.completed[from] {
		from++
	}
	u.mu.Unlock()
	return u.listSource.Poll(ctx, []byte(strconv.Itoa(from)), limit)
}

// A replica that stops gives its lease up: another takes over at once,
// not when the lease would have run out.
func TestStoppingReplicaGivesItsLeaseUp(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	const n = 30
	polled := make(chan struct{}, 1)
	first := &listSource{n: n, gate: func(ctx context.Context, from int) error {
		select {
		case polled <- struct{}{}:
		default:
		}
		<-ctx.Done() // the first replica holds the lease and reports nothing
		return ctx.Err()
	}}
	ctx1, cancel1 := context.WithCancel(context.Background())
	p1 := newPoller(t, js, "replica-1", first)
	p1.Config.Lease = 5 * time.Minute
	done1 := make(chan struct{})
	go func() { defer close(done1); p1.Run(ctx1) }()
	<-polled

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2 := make(chan struct{})
	go func() { defer close(done2); newPoller(t, js, "replica-2", &listSource{n: n}).Run(ctx2) }()
	cancel1()
	<-done1
	waitCursor(t, js, strconv.Itoa(n)) // within the test's time, not five minutes
	cancel2()
	<-done2
	exactlyOnce(t, js, n)
}

// A poll the provider never answers ends with the lease's length and is
// tried again: the replica keeps the account's reports going.
func TestHungPollEndsWithTheLease(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	const n = 20
	var hung atomic.Bool
	src := &listSource{n: n, gate: func(ctx context.Context, from int) error {
		if hung.CompareAndSwap(false, true) {
			<-ctx.Done() // the first poll hangs until its deadline
			return ctx.Err()
		}
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p := newPoller(t, js, "replica-1", src)
	p.Config.Lease = 300 * time.Millisecond
	go func() { defer close(done); p.Run(ctx) }()
	waitCursor(t, js, strconv.Itoa(n))
	cancel()
	<-done
	exactlyOnce(t, js, n)
}

// An idle poller writes neither its cursor nor, at every poll, its lease.
func TestIdlePollerWritesRarely(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	src := &listSource{n: 0}
	p := newPoller(t, js, "replica-1", src)
	p.Config.Lease = 3 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	for src.calls.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	// Every write to the bucket is a message of its stream: the lease
	// taken, the cursor saved once ("0"), the lease renewed at most a few
	// times and given up. Writing at every poll would be 40.
	bucket, err := js.Stream(context.Background(), "KV_"+streams.ReportsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if writes := bucket.CachedInfo().State.LastSeq; writes > 6 {
		t.Errorf("an idle poller wrote its bucket %d times over 20 polls", writes)
	}
}
