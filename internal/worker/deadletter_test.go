package worker_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A dead letter written in a retry round holds, as its data, a job of
// exactly the recipients its Talkrelay-Recipients lists, in that order —
// not every recipient of the round: a replay sends those and no other.
func TestRetryRoundDeadLetterHoldsOnlyItsRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := testJob("round-dead", "acct", 3)
	// Round 0: 0 accepted, 1 and 2 retryable. Round 1: 1 accepted, 2
	// retryable again and out of attempts.
	s := &scripted{limit: 100, answer: func(phone string, attempt int) providers.Outcome {
		switch {
		case phone == j.Recipients[0].Phone, phone == j.Recipients[1].Phone && attempt == 2:
			return accepted
		}
		return transient
	}}
	e.publishJob(j)
	e.startScripted(s, 2)
	e.results(3, 30*time.Second)
	dead := readStream(t, e.js, streams.DLQStream, 1, 10*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	h := dead[0].Headers()
	if h.Get(streams.HeaderRecipients) != "2" || h.Get(streams.HeaderSubject) != streams.RetrySubject("acct") {
		t.Fatalf("dead letter headers %v, want recipient 2 of a retry round", h)
	}
	got, err := job.Decode(dead[0].Data())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Recipients) != 1 || got.Recipients[0].Phone != j.Recipients[2].Phone || got.ID != j.ID {
		t.Errorf("dead letter's job %s holds recipients %+v, want only recipient 2 (%s)", got.ID, got.Recipients, j.Recipients[2].Phone)
	}
}
