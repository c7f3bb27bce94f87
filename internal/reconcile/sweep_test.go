package reconcile

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Sweep purges the records of jobs that are gone from the jobs stream and
// older than the duplicate window, and keeps those of a job still there
// (unacknowledged: a redelivery would reconcile with them) and those within
// the window.
func TestSweep(t *testing.T) {
	t.Parallel()
	js, kv, r := newRecords(t)
	ctx := t.Context()
	record := func(jobID string, seq uint64) string {
		t.Helper()
		if err := r.RecordBatch(ctx, "acct", jobID, []Send{{JobID: jobID, JobSeq: seq, Index: 0, Attempt: 1}}, time.Now()); err != nil {
			t.Fatal(err)
		}
		return requestKey("acct", jobID)
	}
	has := func(key string) bool {
		t.Helper()
		_, err := kv.Get(ctx, key)
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	done := record("done", 0) // its job acknowledged, gone from the jobs stream
	ack, err := js.Publish(ctx, streams.JobSubject("acct", "alimtalk"), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	held := record("held", ack.Sequence) // its job still in the jobs stream

	// Within the duplicate window: nothing goes.
	if n, err := r.Sweep(ctx, time.Now().Add(-time.Hour), 0); err != nil || n != 0 {
		t.Fatalf("Sweep within the window = %d, %v; want 0 purged", n, err)
	}
	if !has(done) || !has(held) {
		t.Fatal("a record within the duplicate window was purged")
	}
	// Past the window: the record stored before the oldest job goes.
	if n, err := r.Sweep(ctx, time.Now(), 0); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 purged", n, err)
	}
	if has(done) || !has(held) {
		t.Fatalf("after a sweep: done's record kept %v, held's %v; want only held's", has(done), has(held))
	}
	// The held job acknowledged: its record is purged with the next one.
	jobs, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.DeleteMsg(ctx, ack.Sequence); err != nil {
		t.Fatal(err)
	}
	later := record("later", 0)
	if n, err := r.Sweep(ctx, time.Now().Add(-time.Hour), 0); err != nil || n != 0 || !has(held) || !has(later) {
		t.Fatalf("Sweep within the window = %d, %v; want 0 purged", n, err)
	}
	// Nothing in the jobs stream, past the window: every record goes.
	if n, err := r.Sweep(ctx, time.Now(), 0); err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2 purged", n, err)
	}
	if has(held) || has(later) {
		t.Fatal("records kept with no job in the stream, past the window")
	}
}
