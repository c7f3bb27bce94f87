package report_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// killedBeforeComplete is a QueueReporter whose first completion call
// never reaches the provider: the worker is killed between storing a
// batch and completing it.
type killedBeforeComplete struct {
	providers.QueueReporter
	kill   context.CancelFunc
	killed atomic.Bool
	// stored checks, at each completion, that the batch is stored.
	stored func()
}

func (k *killedBeforeComplete) CompleteReports(ctx context.Context, group string) error {
	k.stored()
	if k.killed.CompareAndSwap(false, true) {
		k.kill()
		return errors.New("killed before the completion call")
	}
	return k.QueueReporter.CompleteReports(ctx, group)
}

// Kakao's results through the real adapter and kakaofake: a batch is
// completed only once its reports are stored, and a worker killed between
// the two leaves the batch to be handed out again, to the replica that
// takes over, which stores nothing twice and completes it.
func TestKakaoCompleteAfterStoreAndKillBetween(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	const n = 30
	fake := kakaofake.New(t, kakaofake.WithResultsBatch(10))
	for i := range n {
		// Reported an hour ago: no accepted result is waited for.
		fake.Record(kakaofake.Message{CID: kakao.CID("j", i), At: time.Now().Add(-time.Hour)})
	}
	client := kakaoClient(t, fake)
	ctx1, kill := context.WithCancel(context.Background())
	reporter := &killedBeforeComplete{QueueReporter: client, kill: kill, stored: func() {
		if _, total := storedReports(t, js); total < fake.Completed()+10 {
			t.Errorf("completion call with %d reports stored and %d completed: the batch is not stored", total, fake.Completed())
		}
	}}
	src := &report.Queue{Reporter: reporter, Account: "acct", Provider: "kakao",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: reconcile.New(js, nil), Now: time.Now}

	newPoller(t, js, "replica-1", src).Run(ctx1)
	if !reporter.killed.Load() || fake.Completed() != 0 {
		t.Fatalf("killed %v, %d completed: want killed before completing anything", reporter.killed.Load(), fake.Completed())
	}
	if _, total := storedReports(t, js); total != 10 {
		t.Fatalf("%d reports stored before the kill, want the first batch's 10", total)
	}

	ctx2, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); newPoller(t, js, "replica-2", src).Run(ctx2) }()
	deadline := time.After(30 * time.Second)
	for fake.Completed() < n {
		select {
		case <-done:
			t.Fatal("replica-2 stopped")
		case <-deadline:
			t.Fatalf("%d of %d completed after 30s", fake.Completed(), n)
		case <-time.After(10 * time.Millisecond):
		}
	}
	stop()
	<-done
	if fake.Pending() != 0 {
		t.Errorf("%d results still pending at Kakao", fake.Pending())
	}
	exactlyOnce(t, js, n)
}

// kakaoClient is a client of account acct on fake; edit, if any, changes
// its spec.
func kakaoClient(t *testing.T, fake *kakaofake.Fake, edit ...func(*providers.Spec)) *kakao.Client {
	t.Helper()
	spec := providers.Spec{Account: "acct", BaseURL: fake.URL(),
		Credentials:   map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret},
		DecodeOptions: func(into any) error { into.(*kakao.Config).SenderNo = "02-1234-5678"; return nil },
		HTTPClient:    &http.Client{}}
	for _, e := range edit {
		e(&spec)
	}
	client, err := kakao.NewClient(spec)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// A Kakao report can overtake the accepted result of its own send: its
// batch is left uncompleted (Kakao hands it out again) until the result is
// stored, so the report carries the recipient's ref and metadata.
func TestKakaoReportWaitsForItsResult(t *testing.T) {
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	ctx := context.Background()
	fake := kakaofake.New(t)
	j := &job.Job{Version: 1, ID: "k.1", Account: "acct", Kind: job.AlimTalk, Metadata: json.RawMessage(`{"k":1}`),
		Recipients: []job.Recipient{{Ref: "r0", Phone: "01012345678", Content: "hi"}}}
	now := time.Now()
	fake.Record(kakaofake.Message{CID: kakao.CID(j.ID, 0), At: now})
	src := &report.Queue{Reporter: kakaoClient(t, fake), Account: "acct", Provider: "kakao",
		Limiter: ratelimit.NewLocal(ratelimit.Config{}, 1), Store: reconcile.New(js, nil), Now: func() time.Time { return now }}
	page, err := src.Poll(ctx, nil, 100)
	if err != nil || len(page.Reports) != 0 || page.Complete != nil {
		t.Fatalf("before the result: %v, %+v; want no reports and nothing to complete", err, page)
	}
	ev := result.ForRecipient(j, 0, "kakao", now)
	ev.Status, ev.Reason = result.Accepted, result.ReasonOK
	data, _ := json.Marshal(ev)
	if _, err := js.Publish(ctx, streams.ResultSubject("acct", "accepted", j.ID), data); err != nil {
		t.Fatal(err)
	}
	page, err = src.Poll(ctx, nil, 100)
	if err != nil || len(page.Reports) != 1 || page.Reports[0].Ref != "r0" || string(page.Reports[0].Metadata) != `{"k":1}` || page.Complete == nil {
		t.Fatalf("after the result: %v, %+v; want its report with ref and metadata, to complete", err, page)
	}
}
