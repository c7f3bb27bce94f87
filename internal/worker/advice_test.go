package worker_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// An NHN account's friendtalk jobs depend on NHN's compatibility header,
// which ends about 2026-12-31: the worker warns at start-up.
func TestWarnsAtStartUpOfFriendTalkOnNHN(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	cfg := config.Default()
	cfg.NATS.URL = srv.ClientURL()
	cfg.HTTP.Addr = ""
	cfg.Accounts = []config.Account{providerAccount(t, "shop", "nhn", "http://127.0.0.1:1", "",
		map[string]string{"secret_key": "s"}, map[string]any{"app_key": "abc"})}
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
	if want := `"level":"warn","message":"accounts.shop: friendtalk jobs reach NHN only through the X-Convert-To-Brand-Message compatibility header`; !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %s:\n%s", want, logs.String())
	}
}
