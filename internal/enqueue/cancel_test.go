package enqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/worker/workertest"
	"github.com/talkrelay/talkrelay/schemas"
)

// runCancel runs `enqueue cancel` against the env's server.
func (e *env) runCancel(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(t.Context(), append([]string{"cancel", "--nats-url", e.srv.ClientURL()}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// enqueue cancel asks the worker serving the account: a first cancel of a
// job is stored, a second says it was cancelled before, --json prints the
// reply as the schema has it, and an account no worker serves is an error
// naming it.
func TestCancelCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	workertest.StartSandbox(t, e.srv.ClientURL())

	code, stdout, stderr := e.runCancel(t, "--account", "sandbox", "order-1", "order-2")
	if code != ExitOK || strings.Count(stdout, "cancel stored; no recipient has a result yet") != 2 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, _ = e.runCancel(t, "--account", "sandbox", "--json", "order-1")
	if code != ExitOK {
		t.Fatalf("second cancel: exit %d", code)
	}
	if err := schemas.ValidateCancelReply([]byte(stdout)); err != nil {
		t.Errorf("--json line %s: %v", stdout, err)
	}
	var r client.CancelReply
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Outcome != client.CancelAlready {
		t.Errorf("second cancel: %s; want already_canceled", stdout)
	}
	code, _, stderr = e.runCancel(t, "--account", "nobody", "order-1")
	if code != ExitFailed || !strings.Contains(stderr, `no worker serves the account "nobody"`) {
		t.Errorf("unserved account: exit %d, stderr %s", code, stderr)
	}
}

func TestCancelHelpAndUsage(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"cancel", "--help"}, strings.NewReader(""), &out, &errOut); code != ExitOK ||
		!strings.Contains(out.String(), "talkrelay.cancel.<account>") {
		t.Errorf("cancel --help: exit %d\n%s", code, out.String())
	}
	errOut.Reset()
	if code := Main(context.Background(), []string{"cancel", "order-1"}, strings.NewReader(""), &out, &errOut); code != ExitUsage ||
		!strings.Contains(errOut.String(), "enqueue cancel: missing flags: --account") {
		t.Errorf("cancel without --account: exit %d, stderr %s", code, errOut.String())
	}
}
