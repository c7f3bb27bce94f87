package client_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// natsURL is the NATS server the examples use: an embedded one, with a
// worker serving the sandbox account, started by TestMain. In a service it
// is your NATS server's URL.
var natsURL string

func TestMain(m *testing.M) {
	os.Exit(runWithWorker(m))
}

func runWithWorker(m *testing.M) int {
	dir, err := os.MkdirTemp("", "talkrelay-client-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true, MaxPayload: 8 << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	// Generous: a loaded machine running -race tests starts servers slowly.
	if !ns.ReadyForConnections(30 * time.Second) {
		fmt.Fprintln(os.Stderr, "nats-server not ready within 30s")
		return 1
	}
	natsURL = ns.ClientURL()

	cfg := config.Default()
	cfg.NATS.URL = natsURL
	cfg.HTTP.Addr = ""
	acct := config.SandboxAccount()
	acct.MaxConcurrency, acct.RequestTimeout = 4, 10*time.Second
	cfg.Accounts = []config.Account{acct}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, zerolog.Nop(), worker.Options{Ready: ready}) }()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case err := <-done:
		fmt.Fprintln(os.Stderr, "worker did not start:", err)
		return 1
	}
	return m.Run()
}
