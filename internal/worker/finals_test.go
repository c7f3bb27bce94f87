package worker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A lookup that ends after another final result of its recipient was
// stored, longer ago than the results stream's duplicate window (so the
// stream no longer knows its Nats-Msg-Id), publishes no second one.
func TestLateLookupAfterTheDuplicateWindowPublishesNoSecondFinal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("late-lookup", "acct", 1)
	inLookup, stored := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := &scripted{limit: 100,
		answer: func(string, int) providers.Outcome {
			return providers.Outcome{Class: providers.Unknown, Reason: result.ReasonTimeout, Message: "timeout after the request was written"}
		},
		resolve: func(providers.Query) providers.Outcome {
			once.Do(func() { close(inLookup) })
			<-stored
			return providers.Outcome{Class: providers.Accepted, Code: "OK"}
		}}
	e.publishJob(j)
	e.startScripted(s, 3)
	select {
	case <-inLookup:
	case <-time.After(30 * time.Second):
		t.Fatal("no lookup within 30s")
	}

	// Another worker's final result of the recipient, stored while the
	// lookup runs; its Nats-Msg-Id long forgotten, so none is set here.
	ev := result.ForRecipient(j, 0, "scripted", time.Now())
	ev.Status, ev.Reason, ev.Message = result.Unknown, result.ReasonOutcomeUnknown, "stored by another worker"
	if _, err := e.js.Publish(t.Context(), streams.ResultSubject(ev.Account, string(ev.Status), ev.JobID), ev.AppendJSON(nil)); err != nil {
		t.Fatal(err)
	}
	close(stored)

	waitFor(t, 30*time.Second, "the lookup's envelope settled", func() bool { return e.streamCount(streams.JobsStream) == 0 })
	if evs := e.results(1, 10*time.Second); evs[0].Status != result.Unknown {
		t.Fatalf("first result %s, want the stored unknown", evs[0].Status)
	}
	if n := e.streamCount(streams.ResultsStream); n != 1 {
		t.Fatalf("%d results of the recipient; want the one stored before the lookup ended", n)
	}
}
