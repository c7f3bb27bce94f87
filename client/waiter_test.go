package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// received summarises what a Waiter yielded: "job:index:status:settled".
func received(t *testing.T, w *client.Waiter, ctx context.Context) (got []string, err error) {
	t.Helper()
	for r, rerr := range w.Results(ctx) {
		var ee *client.EventError
		if errors.As(rerr, &ee) {
			got = append(got, "not a result on "+ee.Subject)
			continue
		}
		if rerr != nil {
			return got, rerr
		}
		if len(r.Data) == 0 {
			t.Errorf("result %s/%d without its data", r.JobID, r.RecipientIndex)
		}
		got = append(got, fmt.Sprintf("%s:%d:%s:%d", r.JobID, r.RecipientIndex, r.Status, r.Settled))
	}
	return got, nil
}

// A Waiter of few jobs yields the first result of each of their
// recipients, including those stored before it was made (a duplicate's),
// skips a result published again, another job's results and a whole-job
// result's covered recipients, reports a message that is not a result, and
// ends when every recipient has one.
func TestWaiterFewJobs(t *testing.T) {
	js := withShortDedupe(t)
	c := client.New(js)
	publishResult(t, js, "old-1", 0, client.Accepted) // before the Waiter
	w, err := c.NewWaiter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	w.Add("shop", "old-1", 1)
	w.Add("shop", "new-1", 2)
	w.Add("shop", "new-1", 2) // again: ignored
	w.Add("shop", "whole-1", 3)
	if w.Jobs() != 3 || w.Remaining() != 6 {
		t.Fatalf("Jobs %d, Remaining %d; want 3 and 6", w.Jobs(), w.Remaining())
	}
	publishResult(t, js, "new-1", 1, client.Failed)
	publishResult(t, js, "new-1", 1, client.Accepted) // published again
	publishResult(t, js, "other-1", 0, client.Accepted)
	if _, err := js.Publish(t.Context(), streams.ResultSubject("shop", "accepted", "new-1"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	publishResult(t, js, "whole-1", -1, client.Rejected)
	publishResult(t, js, "new-1", 0, client.Accepted)

	got, err := received(t, w, t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := "old-1:0:accepted:1 new-1:1:failed:1 not a result on talkrelay.results.shop.accepted.new-1 whole-1:-1:rejected:3 new-1:0:accepted:1"
	if strings.Join(got, " ") != want {
		t.Errorf("yielded\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if w.Remaining() != 0 {
		t.Errorf("Remaining %d after the last result", w.Remaining())
	}
}

// When ctx ends first, Results yields ctx's error and Unfinished lists the
// recipients without a result.
func TestWaiterUnfinished(t *testing.T) {
	js := withStreams(t)
	w, err := client.New(js).NewWaiter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	w.Add("shop", "part-1", 4)
	w.Add("shop", "done-1", 1)
	publishResult(t, js, "part-1", 2, client.Accepted)
	publishResult(t, js, "done-1", 0, client.Accepted)
	ctx, cancel := context.WithCancel(t.Context())
	var got []string
	for r, err := range w.Results(ctx) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("the last value: %v, want ctx's error", err)
			}
			break
		}
		got = append(got, r.JobID)
		if len(got) == 2 {
			cancel() // both results are in: nothing more will come
		}
	}
	cancel()
	var missing []string
	for u := range w.Unfinished() {
		missing = append(missing, fmt.Sprintf("%s %s %d %v", u.Account, u.JobID, u.Recipients, u.Missing))
	}
	if s := strings.Join(missing, "; "); s != "shop part-1 4 [0 1 3]" {
		t.Errorf("Unfinished: %s, want shop part-1 4 [0 1 3]", s)
	}
}

// Beyond MaxJobFilters jobs a Waiter reads from its pinned position: a
// result stored before it is not seen, one stored after it is.
func TestWaiterManyJobsReadsFromItsPosition(t *testing.T) {
	js := withStreams(t)
	publishResult(t, js, "many-0", 0, client.Accepted) // before the Waiter
	w, err := client.New(js).NewWaiter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range client.MaxJobFilters + 1 {
		w.Add("shop", fmt.Sprint("many-", i), 1)
	}
	// The same recipient's result again under another Nats-Msg-Id, after
	// the pin: the Waiter's first sight of it.
	msg := nats.NewMsg(streams.ResultSubject("shop", "failed", "many-0"))
	msg.Data = []byte(`{"version":1,"job_id":"many-0","recipient_index":0,"account":"shop","status":"failed","retryable":false,"attempt":1,"reason":"timeout","time":"2026-11-21T05:30:00Z"}`)
	if _, err := js.PublishMsg(t.Context(), msg, jetstream.WithMsgID("many-0/0/again")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= client.MaxJobFilters; i++ {
		publishResult(t, js, fmt.Sprint("many-", i), 0, client.Accepted)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	got, err := received(t, w, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != client.MaxJobFilters+1 || got[0] != "many-0:0:failed:1" {
		t.Errorf("yielded %d results, the first %v; want %d, the first many-0:0:failed:1", len(got), got[:min(len(got), 1)], client.MaxJobFilters+1)
	}
}
