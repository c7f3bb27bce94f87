package worker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// maxPayloads are the server max_payloads the tests below run with: NATS's
// default and a small one.
var maxPayloads = []int32{1 << 20, 64 << 10}

// A job that fits the server's max_payload may have retry envelopes that
// do not: they carry the provider's last answer for every recipient. They
// are split by bytes, and every recipient is retried and accepted.
func TestRetryEnvelopesAreSplitToFitMaxPayload(t *testing.T) {
	t.Parallel()
	for _, maxPayload := range maxPayloads {
		t.Run(fmt.Sprintf("max_payload=%d", maxPayload), func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, natstest.RunWith(t, server.Options{MaxPayload: maxPayload}))
			n := min(1000, int(maxPayload)*85/100/900) // about 870 bytes a recipient in the job
			j := testJob("wide", "acct", n)
			for i := range j.Recipients {
				j.Recipients[i].Content = strings.Repeat("가", 266) // 798 bytes
			}
			verbose := transient
			verbose.Message = strings.Repeat("relay failed; ", 30) // 420 bytes in each pending recipient
			s := &scripted{limit: 1000, answer: func(_ string, attempt int) providers.Outcome {
				if attempt == 1 {
					return verbose
				}
				return accepted
			}}
			e.publishJob(j)
			e.startScripted(s, 3)
			evs := byIndex(e.results(n, time.Minute))
			for i := range n {
				if ev := evs[i]; ev.Status != result.Accepted || ev.Attempt != 2 {
					t.Fatalf("recipient %d: %s (%s) after %d attempts, want accepted after 2", i, ev.Status, ev.Detail, ev.Attempt)
				}
			}
			kv, err := e.js.KeyValue(t.Context(), streams.SendsBucket)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := kv.ListKeys(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			envelopes := 0
			for k := range keys.Keys() {
				if strings.Contains(k, ".e.") {
					envelopes++
				}
			}
			if envelopes < 2 {
				t.Errorf("%d envelope records; want the retries split over at least two", envelopes)
			}
		})
	}
}

// A recipient whose retry envelope cannot fit the server's max_payload even
// alone is not retried: its final result is failed, saying why, and the job
// is dead-lettered and acknowledged. (Before, the envelope's publish was
// retried forever on the provider call's goroutine, holding the account's
// concurrency slot, and the job never got a result.)
func TestRecipientTooLargeToRetryFailsWithADeadLetter(t *testing.T) {
	t.Parallel()
	for _, maxPayload := range maxPayloads {
		t.Run(fmt.Sprintf("max_payload=%d", maxPayload), func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, natstest.RunWith(t, server.Options{MaxPayload: maxPayload}))
			j := testJob("huge", "acct", 1)
			j.Recipients[0].Content = strings.Repeat("a", int(maxPayload)-400) // the job fits, with its retry state it does not
			s := &scripted{limit: 100, answer: func(string, int) providers.Outcome { return transient }}
			e.publishJob(j)
			e.startScripted(s, 3)
			ev := e.results(1, time.Minute)[0]
			if ev.Status != result.Failed || !ev.Retryable || ev.Code != transient.Code || !strings.Contains(ev.Detail, "max_payload") {
				t.Errorf("result %s retryable=%v code %s detail %q; want failed, retryable, the provider's code, and why it was not retried",
					ev.Status, ev.Retryable, ev.Code, ev.Detail)
			}
			dead := readStream(t, e.js, streams.DLQStream, 1, 30*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
			if reason := dead[0].Headers().Get(streams.HeaderReason); !strings.Contains(reason, "max_payload") {
				t.Errorf("dead letter reason %q", reason)
			}
			waitFor(t, 30*time.Second, "jobs stream empty", func() bool { return e.streamCount(streams.JobsStream) == 0 })
			if calls := s.calls(); len(calls) != 1 {
				t.Errorf("%d provider calls, want 1", len(calls))
			}
		})
	}
}
