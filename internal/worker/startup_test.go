package worker_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// syncBuffer is a log sink the test reads while the worker writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An external server with nats-server's default max_payload (1 MiB) cannot
// carry the jobs the worker accepts (4 MiB): the worker says so at start-up.
func TestWarnsWhenServerMaxPayloadIsBelowMaxJobBytes(t *testing.T) {
	t.Parallel()
	srv := natstest.RunWith(t, server.Options{StoreDir: t.TempDir(), MaxPayload: 1 << 20})
	cfg := config.Default()
	cfg.NATS.URL = srv.ClientURL()
	cfg.HTTP.Addr = ""
	cfg.Streams.MaxMsgSize = 1 << 20
	cfg.Accounts = []config.Account{config.SandboxAccount()}
	logs := startUpLogs(t, cfg)
	if want := `"level":"warn","message":"the NATS server's max_payload is 1048576 bytes, below worker.max_job_bytes (4194304)`; !strings.Contains(logs, want) {
		t.Errorf("logs lack %s:\n%s", want, logs)
	}
}

// startUpLogs runs a worker on cfg until it is ready, stops it, and
// returns what it logged.
func startUpLogs(t *testing.T, cfg *config.Config) string {
	t.Helper()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, zerolog.New(&logs), worker.Options{Ready: ready}) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("worker: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	return logs.String()
}
