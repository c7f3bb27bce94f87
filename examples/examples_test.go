// Package examples_test runs the programs under examples/ against a real
// NATS server and worker, and the non-Go schema check (ajv, strict mode).
// The Node tests install their pinned dependencies (package-lock.json) with
// npm ci; they are skipped, saying so, only when node or npm is missing.
package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

var (
	npmOnce sync.Once
	npmErr  error
)

// nodeExamples returns the directory of the Node examples with their
// dependencies installed.
func nodeExamples(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the Node examples and the ajv schema check are not run", tool)
		}
	}
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	npmOnce.Do(func() {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci: %v\n%s", err, out)
		}
	})
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	return dir
}

// Both schemas compile under ajv's strict mode (Draft 2020-12), and every
// example validates with it.
func TestSchemasCompileUnderAjvStrictMode(t *testing.T) {
	dir := nodeExamples(t)
	cmd := exec.CommandContext(t.Context(), "node", "check-schemas.mjs")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node check-schemas.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// startWorker runs a NATS server and a worker serving the default sandbox
// account, and returns the server's URL and a JetStream context.
func startWorker(t *testing.T) (string, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	cfg := config.Default()
	cfg.NATS.URL = srv.ClientURL()
	cfg.HTTP.Addr = ""
	acct := config.SandboxAccount()
	acct.MaxConcurrency, acct.RequestTimeout = 4, 10*time.Second
	cfg.Accounts = []config.Account{acct}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), worker.Options{Ready: ready})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("worker did not start: %v", err)
	}
	return srv.ClientURL(), js
}

// publishExample publishes schemas/examples/job-alimtalk.json (three
// recipients on the sandbox account) as a producer should: to its subject,
// with Nats-Msg-Id set to its id. It returns the job id.
func publishExample(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	data, err := os.ReadFile("../schemas/examples/job-alimtalk.json")
	if err != nil {
		t.Fatal(err)
	}
	var j struct{ ID, Account, Kind string }
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), streams.JobSubject(j.Account, j.Kind), data, jetstream.WithMsgID(j.ID)); err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// consumeLines runs cmd until it exits by itself, failing the test if
// it does not within a generous bound (a hang, not a slow machine).
func consumeLines(t *testing.T, cmd *exec.Cmd) []string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Errorf("%s wrote to stderr:\n%s", cmd.Args[0], stderr.Bytes())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestNodeConsumerReadsResults(t *testing.T) {
	dir := nodeExamples(t)
	url, js := startWorker(t)
	id := publishExample(t, js)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "consume-results.mjs", streams.JobResultsFilter("sandbox", id))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NATS_URL="+url, "RESULTS_COUNT=3", "DURABLE=node-example-test")
	lines := consumeLines(t, cmd)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want one per recipient (3):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, line := range lines {
		var got struct {
			MsgID          string `json:"msg_id"`
			Traceparent    string `json:"traceparent"`
			JobID          string `json:"job_id"`
			Status         string `json:"status"`
			RecipientIndex int    `json:"recipient_index"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got.JobID != id || got.Status != "accepted" || got.MsgID != fmt.Sprintf("%s/%d", id, got.RecipientIndex) || got.Traceparent == "" {
			t.Errorf("result line %s; want job %s accepted, Nats-Msg-Id <job>/<index>, a traceparent", line, id)
		}
	}
}

func TestGoConsumerReadsResults(t *testing.T) {
	url, js := startWorker(t)
	id := publishExample(t, js)

	bin := filepath.Join(t.TempDir(), "consume-results")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./consume-results")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	lines := consumeLines(t, exec.CommandContext(ctx, bin, "-nats-url", url, "-count", "3",
		"-durable", "go-example-test", "-filter", streams.JobResultsFilter("sandbox", id)))
	if len(lines) != 3 {
		t.Fatalf("%d lines, want one per recipient (3):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, id+" #") || !strings.Contains(line, " accepted ok ") {
			t.Errorf("result line %q; want job %s accepted", line, id)
		}
	}
}

// Both schemas are valid Draft 2020-12 for Python's jsonschema too, and
// every example validates with it. Skipped when python3 or its jsonschema
// module is not installed (pip install jsonschema).
func TestSchemasCheckUnderPythonJsonschema(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	if exec.Command("python3", "-c", "import jsonschema").Run() != nil {
		t.Skip("python3 has no jsonschema module")
	}
	const check = `
import glob, json, os, sys
from jsonschema import Draft202012Validator, FormatChecker
validators = {}
kinds = [os.path.basename(p)[:-len(".v1.schema.json")] for p in glob.glob("../schemas/*.v1.schema.json")]
for kind in kinds:
    schema = json.load(open(f"../schemas/{kind}.v1.schema.json"))
    Draft202012Validator.check_schema(schema)
    validators[kind] = Draft202012Validator(schema, format_checker=FormatChecker())
for path in sorted(glob.glob("../schemas/examples/*.json")):
    base = os.path.basename(path)[:-len(".json")]
    kind = max((k for k in kinds if base == k or base.startswith(k + "-")), key=len, default="job")
    errors = [e.message for e in validators[kind].iter_errors(json.load(open(path)))]
    if errors:
        sys.exit(f"{path}: {errors}")
`
	if out, err := exec.CommandContext(t.Context(), "python3", "-c", check).CombinedOutput(); err != nil {
		t.Fatalf("python3 jsonschema: %v\n%s", err, out)
	}
}
