// Package workertest runs a real worker inside a test process.
package workertest

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// StartSandbox runs a worker with the default configuration and its
// sandbox account (as with no --config) against the NATS server at
// natsURL until the test ends, and returns once it consumes.
func StartSandbox(t *testing.T, natsURL string) {
	t.Helper()
	cfg := config.Default()
	cfg.NATS.URL = natsURL
	cfg.HTTP.Addr = ""
	cfg.Accounts = []config.Account{config.SandboxAccount()}
	cfg.ApplyDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, zerolog.Nop(), worker.Options{Ready: ready}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("worker: %v", err)
	}
}
