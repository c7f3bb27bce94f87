package enqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker/workertest"
)

// unreachable is a NATS URL nothing listens on.
const unreachable = "nats://127.0.0.1:1"

// runOffline runs enqueue against no server at all.
func runOffline(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), append([]string{"--nats-url", unreachable}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDryRunNeedsNoServer(t *testing.T) {
	t.Parallel()
	e := &env{dir: t.TempDir()}
	path := e.file(t, "jobs.ndjson", ndjson(2, "dry")+`{"version":1,"id":"urgent","account":"shop","kind":"friendtalk","priority":"urgent","recipients":[{"phone":"01012345678","content":"x"}]}`+"\n")
	code, stdout, stderr := runOffline(t, "-f", path, "--dry-run")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "dry run: 3 jobs valid (3 recipients), 0 invalid jobs; nothing published") {
		t.Errorf("stderr:\n%s", stderr)
	}
	var lines []dryRunLine
	for line := range strings.Lines(stdout) {
		var l dryRunLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 3 || lines[0].Subject != "talkrelay.jobs.sandbox.alimtalk" || lines[0].MsgID != "dry-1" || lines[0].Recipients != 1 ||
		lines[2].Subject != "talkrelay.jobs.shop.friendtalk.urgent" || lines[2].Bytes != len(lines[2].Job) {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestInvalidInputIsReportedBeforeConnecting(t *testing.T) {
	t.Parallel()
	e := &env{dir: t.TempDir()}
	path := e.file(t, "jobs.ndjson", `{"version":1,"id":"no-recipients","account":"sandbox","kind":"alimtalk","template":"T1"}`+"\n")
	code, _, stderr := runOffline(t, "-f", path)
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	if !strings.Contains(stderr, path+":1: invalid job no-recipients") || strings.Contains(stderr, "connect") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if code, _, stderr := runOffline(t, "--nats-url", "htp//not a url", "-f", path); code != ExitUsage || !strings.Contains(stderr, "--nats-url: ") {
		t.Errorf("bad URL: exit %d, stderr:\n%s", code, stderr)
	}
}

// bigJob is a valid one-recipient job of about size bytes.
func bigJob(id string, size int) string {
	return `{"version":1,"id":"` + id + `","account":"sandbox","kind":"alimtalk","template":"T1","recipients":[{"phone":"01012345678","content":"` + strings.Repeat("x", size) + `"}]}` + "\n"
}

func TestTooLargeJobsAreRefusedWithTheirLine(t *testing.T) {
	t.Parallel()
	// A server with a small max_payload, as an external server's 1 MiB
	// default is small next to the worker's 4 MiB jobs.
	srv := natstest.RunWith(t, server.Options{StoreDir: t.TempDir(), MaxPayload: 8 << 10})
	_, js := srv.JetStream(t)
	scfg := streams.DefaultConfig()
	scfg.MaxMsgSize = 8 << 10
	if err := streams.Ensure(t.Context(), js, scfg); err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, js: js, dir: t.TempDir()}
	path := e.file(t, "jobs.ndjson", bigJob("small", 100)+bigJob("over-max-job-bytes", 5000)+bigJob("over-max-payload", 10<<10))
	code, _, stderr := e.run(t, "", "-f", path, "--max-job-bytes", "4096")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	for _, want := range []string{
		path + ":2: job over-max-job-bytes is 5", "bytes, over --max-job-bytes 4096",
		path + ":3: job over-max-payload is 10", "over --max-job-bytes 4096",
		"1 job published (1 recipient), 0 duplicates skipped, 0 invalid jobs, 0 failed, 2 too large",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, _, stderr = e.run(t, "", "-f", path, "--max-job-bytes", "65536")
	if code != ExitFailed || !strings.Contains(stderr, path+":3: job over-max-payload is 10") || !strings.Contains(stderr, "over the NATS server's max_payload 8192") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// splitArgs splits a command line as a shell would for the help's
// example: on spaces, with double quotes around an argument.
func splitArgs(line string) []string {
	var args []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				args = append(args, cur.String())
				cur.Reset()
			}
			in = false
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args
}

// The one-job example of --help, run as printed against a worker with the
// default configuration (its sandbox account), gets its recipient accepted.
func TestHelpExampleWorksAgainstTheDefaultWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var help, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"--help"}, strings.NewReader(""), &help, &errOut); code != ExitOK {
		t.Fatalf("--help: exit %d", code)
	}
	var example []string
	for line := range strings.Lines(help.String()) {
		if f := strings.TrimSpace(line); strings.HasPrefix(f, "enqueue --account sandbox") {
			example = splitArgs(f)[1:]
		}
	}
	if example == nil {
		t.Fatalf("no one-job example in --help:\n%s", help.String())
	}

	workertest.StartSandbox(t, e.srv.ClientURL())

	code, stdout, stderr := e.run(t, "", append(example, "--timeout", "1m")...)
	if code != ExitOK {
		t.Fatalf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", example, code, stdout, stderr)
	}
	if !strings.Contains(stderr, "results: 1 accepted\n") || !strings.Contains(stdout, `"status":"accepted"`) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}

	// The README's "Try it" command, twice: the second run publishes
	// nothing and shows the first run's results.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var tryIt []string
	for line := range strings.Lines(string(readme)) {
		if strings.HasPrefix(line, "bin/enqueue ") {
			tryIt = splitArgs(strings.TrimSpace(line))[1:]
		}
	}
	if tryIt == nil {
		t.Fatal("no bin/enqueue command in README.md")
	}
	for i, arg := range tryIt {
		if strings.HasPrefix(arg, "schemas/") {
			tryIt[i] = "../../" + arg
		}
	}
	for run, want := range []string{"1 job published (3 recipients)", "1 job was already enqueued before this run"} {
		code, _, stderr := e.run(t, "", tryIt...)
		if code != ExitOK || !strings.Contains(stderr, want) || !strings.Contains(stderr, "results: 3 accepted\n") {
			t.Errorf("README command %q, run %d: exit %d, stderr:\n%s", tryIt, run+1, code, stderr)
		}
	}
}
