package worker_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// A worker whose NATS account reaches talkrelay's JetStream through a leaf
// node, in another JetStream domain (nats.domain), sends and stores
// everything in that domain: its API requests, the duplicate check's direct
// gets and its hand-built send-record writes all go through
// $JS.<domain>.API. Plain $KV.talkrelay_sends.* or $JS.API.* subjects from
// the leaf reach no stream of the hub.
func TestWorkerUsesTheConfiguredJetStreamDomain(t *testing.T) {
	t.Parallel()
	hub, leaf := natstest.RunLeaf(t, "hub", "leaf")
	nc, js := hub.JetStream(t)
	e := &env{t: t, srv: hub, nc: nc, js: js}

	// The hub's JetStream answers the leaf's clients once the leaf node
	// has told the hub about them.
	lnc := leaf.Connect(t)
	hubFromLeaf, err := jetstream.NewWithDomain(lnc, "hub")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the hub's JetStream through the leaf node", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := hubFromLeaf.AccountInfo(ctx)
		return err == nil
	})

	cfg := e.config(sandboxAccount("acct", nil))
	cfg.NATS.URL = leaf.ClientURL()
	cfg.NATS.Domain = "hub"
	// Any warning (a duplicate check that failed and handed the job back,
	// a store that failed) means a subject missed the hub.
	warned := &lineLog{}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, cfg, zerolog.New(warned).Level(zerolog.WarnLevel), worker.Options{Ready: ready})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("worker did not start: %v", err)
	}
	e.publishJob(testJob("via-leaf", "acct", 2))

	for _, ev := range e.results(2, 30*time.Second) {
		if ev.Status != result.Accepted {
			t.Errorf("recipient %d: %s/%s, want accepted", ev.RecipientIndex, ev.Status, ev.Reason)
		}
	}
	// The send record of the request was written into the hub's bucket.
	kv, err := js.KeyValue(t.Context(), streams.SendsBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeysFiltered(t.Context(), "request.acct.>")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	if n == 0 {
		t.Error("no send record of the account's request in the hub's talkrelay_sends bucket")
	}
	if lines := warned.String(); lines != "" {
		t.Errorf("the worker warned:\n%s", lines)
	}
	// Nothing of talkrelay's went into the leaf's own JetStream.
	_, leafJS := leaf.JetStream(t)
	if _, err := leafJS.Stream(t.Context(), streams.JobsStream); err == nil {
		t.Errorf("the worker created %s in the leaf's JetStream domain", streams.JobsStream)
	}
}

// lineLog keeps what a logger writes.
type lineLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
