package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers/sandbox"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A deployment of an earlier version has one jobs consumer for all
// accounts (talkrelay-worker, filtered on talkrelay.jobs.> and
// talkrelay.retry.>) and a jobs stream taking talkrelay.jobs.>. The first
// worker of this version replaces both: the jobs the old consumer held
// unacknowledged and the ones still queued are all sent, each once.
func TestUpgradeFromTheSingleConsumer(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	nc, js := srv.JetStream(t)
	ctx := t.Context()
	old := streams.DefaultConfig().StreamConfigs()[0]
	old.Subjects = []string{streams.JobsPrefix + ".>", streams.RetryPrefix + ".>", streams.SchedulePrefix + ".>"}
	if _, err := js.CreateStream(ctx, old); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateConsumer(ctx, streams.JobsStream, jetstream.ConsumerConfig{
		Durable: streams.WorkerConsumer, FilterSubjects: []string{streams.JobsPrefix + ".>", streams.RetryPrefix + ".>"},
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Hour, MaxDeliver: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, nc: nc, js: js, clients: map[string]*sandbox.Client{}, logLevel: zerolog.WarnLevel}
	for i := range 20 {
		e.publishJob(testJob(fmt.Sprintf("old-%02d", i), "acct", 2))
	}
	// An old worker took five and died without acknowledging them (the
	// ack wait of an hour keeps them from coming back by themselves).
	batch, err := cons.Fetch(5, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	taken := 0
	for range batch.Messages() {
		taken++
	}
	if taken != 5 {
		t.Fatalf("old consumer took %d jobs, want 5", taken)
	}

	e.start(e.config(sandboxAccount("acct", nil)))
	evs := e.results(40, 30*time.Second)
	per := countBy(evs, func(ev result.Event) string { return fmt.Sprintf("%s/%d", ev.JobID, ev.RecipientIndex) })
	if len(per) != 40 {
		t.Fatalf("results for %d recipients, want 40", len(per))
	}
	for k, n := range per {
		if n != 1 {
			t.Errorf("%s: %d results", k, n)
		}
	}
	if got := e.requests("acct"); got == 0 {
		t.Fatal("nothing sent")
	}
	if _, err := js.Consumer(ctx, streams.JobsStream, streams.WorkerConsumer); err == nil {
		t.Error("the old single consumer still exists")
	}
	waitFor(t, 10*time.Second, "jobs stream empty", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}
