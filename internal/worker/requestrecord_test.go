package worker_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A worker died after handing recipient 0 of a job to the provider: the
// request's send record (shared with another job's recipient) is all it
// left. The job comes again as a redelivery; the worker finds the record
// among its account's request records stored since the job was, and looks
// recipient 0 up instead of sending it again. Recipient 1 was never sent
// and is sent.
func TestRedeliveredJobLooksUpWhatItsRequestRecordShowsSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	j := testJob("crashed", "acct", 2)
	ack := publishAck(t, e.js, j)
	kv, err := e.js.KeyValue(ctx, streams.SendsBucket)
	if err != nil {
		t.Fatal(err)
	}
	sends := []reconcile.Send{{JobID: "other", JobSeq: 1, Index: 0, Attempt: 1}, {JobID: j.ID, JobSeq: ack.Sequence, Index: 0, Attempt: 1}}
	if err := reconcile.New(e.js, kv).RecordBatch(ctx, "acct", "died", sends, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The dead worker's delivery: taken through the account's consumer and
	// handed back, so that the next one is a redelivery.
	cons, err := e.js.CreateOrUpdateConsumer(ctx, streams.JobsStream, jetstream.ConsumerConfig{
		Durable:        config.Default().Worker.Consumer + "-acct",
		FilterSubjects: []string{streams.JobsPrefix + ".acct.*", streams.RetryPrefix + ".acct"},
		AckPolicy:      jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.Nak(); err != nil {
			t.Fatal(err)
		}
	}

	s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return accepted },
		resolve: func(providers.Query) providers.Outcome { return accepted }}
	e.startScripted(s, 3)
	for i, ev := range byIndex(e.results(2, 30*time.Second)) {
		if ev.Status != result.Accepted {
			t.Errorf("recipient %d: %s (%s)", i, ev.Status, ev.Detail)
		}
	}
	if sent, _ := s.sentTo(j.Recipients[0].Phone); len(sent) != 0 {
		t.Errorf("recipient 0 sent again at attempts %v; want it looked up", sent)
	}
	if sent, _ := s.sentTo(j.Recipients[1].Phone); !reflect.DeepEqual(sent, []int{1}) {
		t.Errorf("recipient 1 sent at attempts %v; want [1]", sent)
	}
}
