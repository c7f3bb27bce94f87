package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// worker runs the command line in-process and returns its exit code and
// output.
func runWorker(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runWorker(t, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "worker ") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
}

func TestCheckConfigNamesTheAccountsOnStdout(t *testing.T) {
	code, stdout, stderr := runWorker(t, "--check-config")
	if code != 0 || stdout != "config ok: 1 account: sandbox (sandbox)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestMissingConfigFileIsOneLine(t *testing.T) {
	code, stdout, stderr := runWorker(t, "--config", filepath.Join(t.TempDir(), "nope.yaml"), "--check-config")
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "nope.yaml") || strings.Contains(stderr, "Usage") {
		t.Fatalf("stderr:\n%s", stderr)
	}
}

func TestBadNATSURLFlag(t *testing.T) {
	code, _, stderr := runWorker(t, "--nats-url", "htp//not a url", "--check-config")
	if code != 1 || !strings.Contains(stderr, `--nats-url: "htp//not a url" is not a NATS server URL`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestCheckConfigRejects(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"empty file", "", "is empty"},
		{"comments only", "# nothing\n", "is empty"},
		{"bad NATS URL", "nats:\n  url: \"htp//not a url\"\n", "nats.url"},
		{"unknown scheme", "nats:\n  url: \"htp://host:4222\"\n", "nats.url"},
		{"bad HTTP address", "http:\n  addr: nonsense\n", "http.addr"},
		{"bad HTTP port", "http:\n  addr: \"127.0.0.1:99999\"\n", "http.addr"},
		{"unknown sandbox option", "log:\n  level: info\naccounts:\n  - name: play\n    provider: sandbox\n    options:\n      latency: 5ms\n      lantecy: 5ms\n",
			"c.yaml:8: accounts.play.options.lantecy: unknown field; in accounts.play.options the fields are batch_limit, fallback_rate, latency,"},
		{"sandbox option out of range", "accounts:\n  - name: play\n    provider: sandbox\n    options:\n      batch_limit: 0\n",
			"c.yaml:5: accounts.play.options.batch_limit: 0 is out of range"},
		{"NAVER base URL", "accounts:\n  - name: shop\n    provider: naver\n    base_url: \"ftp://x\"\n    credentials:\n      access_key: {value: a}\n      secret_key: {value: b}\n    options:\n      service_id: \"ncp:kkobizmsg:kr:123456789012:shop\"\n",
			"c.yaml:4: accounts.shop.base_url: \"ftp://x\" must be"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runWorker(t, "--config", path, "--check-config")
			if code != 1 || strings.Contains(stdout, "config ok") || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "in type") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want an error naming %q", code, stdout, stderr, tt.want)
			}
		})
	}
}

// An NHN account's friendtalk jobs depend on NHN's compatibility header,
// which ends about 2026-12-31: --check-config says so, and more plainly
// when the header is turned off.
func TestCheckConfigWarnsOfFriendTalkOnNHN(t *testing.T) {
	for _, tt := range []struct{ name, options, want string }{
		{"header on", "", "warning: accounts.shop: friendtalk jobs reach NHN only through the X-Convert-To-Brand-Message compatibility header, offered until about 2026-12-31"},
		{"header off", "      convert_to_brand_message: false\n", "warning: accounts.shop: convert_to_brand_message is off, so NHN refuses every friendtalk job"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			yaml := "accounts:\n  - name: shop\n    provider: nhn\n    credentials:\n      secret_key: {value: s}\n    options:\n      app_key: abc\n" + tt.options
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runWorker(t, "--config", path, "--check-config")
			if code != 0 || !strings.HasPrefix(stdout, "config ok: 1 account: shop (nhn)\n") || !strings.Contains(stdout, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, tt.want)
			}
		})
	}
}
