package worker_test

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// The send records of an acknowledged job are purged once they are older
// than the duplicate window: the bucket does not grow with every job sent.
func TestSendRecordsOfFinishedJobsArePurged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(sandboxAccount("acct", nil))
	cfg.Streams.JobsDuplicateWindow = time.Second
	e.start(cfg)
	e.publishJob(testJob("swept", "acct", 3))
	if ev := e.results(3, 30*time.Second)[0]; ev.Status != result.Accepted {
		t.Fatalf("result %s, want accepted", ev.Status)
	}
	const sends = "KV_" + streams.SendsBucket
	s, err := e.js.Stream(t.Context(), sends)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq == 0 {
		t.Fatal("no send record was written; nothing to sweep")
	}
	waitFor(t, 30*time.Second, "send records purged", func() bool { return e.streamCount(sends) == 0 })
}
