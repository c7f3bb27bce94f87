package worker_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/sandbox"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// permissionsFile is the nats-server include that documents the
// permissions of talkrelay's clients.
const permissionsFile = "../../deploy/nats/talkrelay-permissions.conf"

// A worker whose NATS user has exactly TALKRELAY_WORKER creates its
// streams and buckets, takes jobs a TALKRELAY_PRODUCER user published,
// retries through a message schedule, keeps send records, shares a rate
// limit, stores results, reports and a dead letter, and answers a
// cancel; the server never refuses it anything (no permissions violation
// in its log).
func TestWorkerRunsWithTheDocumentedPermissions(t *testing.T) {
	t.Parallel()
	// nats-server resolves an include beside the including file.
	dir := t.TempDir()
	perms, err := os.ReadFile(permissionsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "talkrelay-permissions.conf"), perms, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(`include "talkrelay-permissions.conf"
authorization {
  users = [
    {user: admin, password: admin}
    {user: talkrelay, password: worker, permissions: $TALKRELAY_WORKER}
    {user: orders, password: producer, permissions: $TALKRELAY_PRODUCER}
  ]
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("%s: %v", permissionsFile, err)
	}
	srv := natstest.RunWith(t, *opts)
	admin := srv.Connect(t, nats.UserInfo("admin", "admin"))
	adminJS := mustJetStream(t, admin)
	producer := srv.Connect(t, nats.UserInfo("orders", "producer"))
	e := &env{t: t, srv: srv, nc: producer, js: mustJetStream(t, producer), clients: map[string]*sandbox.Client{}, logLevel: zerolog.InfoLevel}

	s := &scripted{limit: 100, answer: func(phone string, attempt int) providers.Outcome {
		if strings.HasSuffix(phone, "1") && attempt == 1 {
			return transient
		}
		return accepted
	}}
	sbx := sandboxAccount("sbx", map[string]any{"report_delay": "50ms"})
	sbx.RateLimit = ratelimit.Config{RequestsPerSecond: 50}
	sbx.Reports.Interval = 50 * time.Millisecond
	cfg := e.config(config.Account{Name: "acct", Provider: "scripted", MaxConcurrency: 4, RequestTimeout: 5 * time.Second, Retry: fastRetry(3)}, sbx)
	cfg.NATS.User, cfg.NATS.Password = "talkrelay", "worker"
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready, errc := make(chan struct{}), make(chan error, 1)
	go func() {
		errc <- worker.Run(ctx, cfg, zerolog.New(logs).Level(zerolog.InfoLevel), worker.Options{Ready: ready,
			Providers: map[string]providers.Factory{
				"scripted": func(providers.Spec) (providers.Provider, error) { return s, nil },
				"sandbox":  sandbox.New,
			}})
	}()
	t.Cleanup(func() {
		cancel()
		<-errc
	})
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("worker did not start under TALKRELAY_WORKER: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("worker not ready within 30s\n%s", logs)
	}

	e.publishJob(testJob("retried", "acct", 2)) // recipient 1 is retried once
	e.publishJob(testJob("reported", "sbx", 2))
	e.publishRaw(streams.JobSubject("sbx", "alimtalk"), []byte(`{"version":1,"id":"bad"}`), "bad")
	req, _ := json.Marshal(client.CancelRequest{Version: 1, JobID: "never-sent"})
	m, err := producer.Request(streams.CancelSubject("acct"), req, 20*time.Second)
	if err != nil {
		t.Fatalf("cancel request: %v\n%s", err, logs)
	}
	var reply client.CancelReply
	if err := json.Unmarshal(m.Data, &reply); err != nil || reply.Outcome != client.CancelStored {
		t.Errorf("cancel reply %s (%v): want stored", m.Data, err)
	}

	e.js = adminJS // the producer may read nothing back
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs)
		}
	})
	evs := e.results(5, 30*time.Second)
	status := countBy(evs, func(ev result.Event) string { return ev.JobID + " " + string(ev.Status) })
	if status["retried accepted"] != 2 || status["reported accepted"] != 2 || status["bad rejected"] != 1 {
		t.Errorf("results %v: want both recipients of each job accepted and the invalid job rejected\n%s", status, logs)
	}
	waitFor(t, 30*time.Second, "2 reports", func() bool { return e.streamCount(streams.ReportsStream) >= 2 })
	waitFor(t, 30*time.Second, "1 dead letter", func() bool { return e.streamCount(streams.DLQStream) >= 1 })
	if attempts, _ := s.sentTo(testJob("retried", "acct", 2).Recipients[1].Phone); len(attempts) != 2 {
		t.Errorf("the retried recipient was sent %d times, want 2", len(attempts))
	}
	if strings.Contains(strings.ToLower(logs.String()), "permissions violation") {
		t.Errorf("the server refused the worker something:\n%s", logs)
	}
}

func mustJetStream(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
