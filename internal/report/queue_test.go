package report_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/report"
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
		fake.Record(kakaofake.Message{CID: kakao.CID("j", i)})
	}
	client, err := kakao.NewClient(providers.Spec{Account: "acct", BaseURL: fake.URL(),
		Credentials:   map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret},
		DecodeOptions: func(into any) error { into.(*kakao.Config).SenderNo = "02-1234-5678"; return nil },
		HTTPClient:    &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
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
