package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/internal/dedupe"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A delivery that stops after storing one of its follow-up envelopes and
// before the next is reconciled when it comes again: the stored envelope is
// scheduled again, and the recipients of the lost one get envelopes of
// their own. Those must not take the stored one's name (before, both were
// "a0": the new record overwrote the stored one and the new schedule was
// dropped as a duplicate of it, so its recipients never got a result).
func TestReconciledDeliveryDoesNotReuseAStoredEnvelopeName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("stopped-between-envelopes", "acct", 2)
	first, second := j.Recipients[0].Phone, j.Recipients[1].Phone
	ack := publishAck(t, e.js, j)

	// What the stopped worker left: both recipients sent at attempt 1, and
	// recipient 0's envelope "a0" stored; recipient 1's was not.
	now := time.Now()
	sent := nats.NewMsg("$KV." + streams.SendsBucket + "." + dedupe.JobKey(j.ID) + ".b.stopped")
	sent.Data = fmt.Appendf(nil, `{"at":%q,"seq":%d,"sends":[[0,1],[1,1]]}`, now.Format(time.RFC3339Nano), ack.Sequence)
	parent := streams.JobToken(j.ID)
	stored := *j
	stored.Recipients = j.Recipients[:1]
	env := &retry.Envelope{ID: parent + ".a0", DueAt: now, Job: &stored, Round: 1, JobSeq: ack.Sequence,
		Pending: []retry.Pending{{Index: 0, Attempts: 1, FirstSentAt: now, LastSentAt: now, Last: retry.FromProvider(&transient)}}}
	data, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := e.js.KeyValue(t.Context(), streams.SendsBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*nats.Msg{sent, reconcile.New(e.js, kv).EnvelopeRecord(j.ID, parent, "a0", data)} {
		if _, err := e.js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}

	// Recipient 1 had no envelope: it is looked up, proven never taken,
	// sent again (attempt 2), refused for now and scheduled; then accepted.
	s := &scripted{limit: 100,
		answer: func(phone string, attempt int) providers.Outcome {
			if phone == second && attempt == 2 {
				return transient
			}
			return accepted
		},
		resolve: func(providers.Query) providers.Outcome {
			return providers.Outcome{Class: providers.Retryable, Message: "never taken"}
		}}
	e.startScripted(s, 5)
	evs := byIndex(e.results(2, time.Minute))
	for i, want := range []int{2, 3} {
		if ev := evs[i]; ev.Status != result.Accepted || ev.Attempt != want {
			t.Errorf("recipient %d: %s after %d attempts, want accepted after %d", i, ev.Status, ev.Attempt, want)
		}
	}
	if attempts, _ := s.sentTo(first); len(attempts) != 1 {
		t.Errorf("recipient 0 sent at attempts %v, want once, from its stored envelope", attempts)
	}
}
