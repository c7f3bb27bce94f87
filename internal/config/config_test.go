package config

import (
	"os"

	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/retry"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// The example states the defaults: it must agree with Default().
	def := Default()
	if cfg.Accounts[0].Retry != retry.DefaultPolicy() {
		t.Errorf("config.example.yaml retry %+v, default %+v", cfg.Accounts[0].Retry, retry.DefaultPolicy())
	}
	var reports report.Config
	reports.Defaults()
	example := cfg.Accounts[0].Reports
	if example.Enabled == nil || !*example.Enabled {
		t.Error("config.example.yaml: the sandbox's reports are on by default")
	}
	if example.Enabled = nil; example != reports {
		t.Errorf("config.example.yaml reports %+v, default %+v", example, reports)
	}
	if cfg.Worker != def.Worker || cfg.Streams != def.Streams || cfg.NATS.Embedded != def.NATS.Embedded || cfg.HTTP != def.HTTP || cfg.Log != def.Log {
		t.Errorf("config.example.yaml disagrees with Default():\nexample %+v %+v %+v\ndefault %+v %+v %+v",
			cfg.Worker, cfg.Streams, cfg.NATS.Embedded, def.Worker, def.Streams, def.NATS.Embedded)
	}
}

func TestNoFileGivesSandbox(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Accounts) != 1 || cfg.Accounts[0].Provider != "sandbox" || cfg.Accounts[0].MaxConcurrency != 16 {
		t.Fatalf("accounts = %+v", cfg.Accounts)
	}
	if cfg.NATS.URL != "" || cfg.NATS.Embedded.StoreDir != "./data" {
		t.Fatalf("nats = %+v", cfg.NATS)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	t.Setenv("NATS_URL", "nats://example:4222")
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.URL != "nats://example:4222" {
		t.Fatalf("url = %q", cfg.NATS.URL)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "worker:\n  lingr: 5ms\n", "lingr"},
		{"bad duration", "worker:\n  linger: soon\n", "soon"},
		{"bad account name", "accounts:\n  - name: a.b\n    provider: sandbox\n", "accounts.a.b.name"},
		{"missing provider", "accounts:\n  - name: a\n", "accounts.a.provider"},
		{"negative rate", "accounts:\n  - name: a\n    provider: sandbox\n    rate_limit: {requests_per_second: -1}\n", "accounts.a.rate_limit.requests_per_second"},
		{"two secret sources", "accounts:\n  - name: a\n    provider: sandbox\n    credentials: {k: {env: X, file: /y}}\n", "accounts.a.credentials.k"},
		{"bad log level", "log: {level: loud}\n", "log.level"},
		{"bad JetStream domain", "nats: {domain: a.b}\n", "nats.domain"},
		{"pull batch over max ack pending", "worker: {pull_batch: 5, max_ack_pending: 4}\n", "worker.pull_batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	t.Setenv("TALKRELAY_TEST_SECRET", "s3cret")
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		s    Secret
		want string
	}{{Secret{Env: "TALKRELAY_TEST_SECRET"}, "s3cret"}, {Secret{File: file}, "from-file"}, {Secret{Value: "v"}, "v"}} {
		got, err := tt.s.Resolve()
		if err != nil || got != tt.want {
			t.Errorf("%+v: %q, %v; want %q", tt.s, got, err, tt.want)
		}
	}
	for _, s := range []Secret{{}, {Env: "TALKRELAY_TEST_UNSET"}, {File: "/nonexistent"}, {Env: "A", Value: "b"}} {
		if _, err := s.Resolve(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

func TestDecodeOptionsStrict(t *testing.T) {
	a := Account{Name: "a"}
	if err := a.Options.Encode(map[string]any{"latency": "5ms", "typo": 1}); err != nil {
		t.Fatal(err)
	}
	var into struct {
		Latency time.Duration `yaml:"latency"`
	}
	err := a.DecodeOptions(&into)
	if err == nil || !strings.Contains(err.Error(), "accounts.a.options") || !strings.Contains(err.Error(), "typo") {
		t.Fatalf("err = %v", err)
	}
}

// Every error names FILE:LINE and the YAML path, in words rather than Go
// types.
func TestErrorsSayWhereAndWhat(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", "log:\n  level: info\nworker:\n  linger: 5ms\n  lingerr: 5ms\n",
			[]string{"c.yaml:5: worker.lingerr: unknown field; in worker the fields are", "linger,"}},
		{"bad duration", "worker:\n  linger: soon\n", []string{`c.yaml:2: worker.linger: "soon" is not a duration`}},
		{"bad number", "worker:\n  pull_batch: many\n", []string{`c.yaml:2: worker.pull_batch: "many" is not a whole number`}},
		{"unknown account field", "accounts:\n  - name: shop\n    provider: sandbox\n    sendr: x\n", []string{"c.yaml:4: accounts.shop.sendr: unknown field"}},
		{"validation", "log:\n  format: json\n  level: loud\n", []string{`c.yaml:3: log.level: "loud" is not one of`}},
		{"account validation", "accounts:\n  - name: a\n    provider: sandbox\n    max_concurrency: -1\n", []string{"c.yaml:4: accounts.a.max_concurrency: -1"}},
		{"empty", "\n# only a comment\n", []string{"c.yaml is empty"}},
		{"not YAML", "log:\n  level: info\n  format: a: b\n", []string{"c.yaml:3: not YAML: mapping values are not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), strings.Replace(want, "c.yaml", path, 1)) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "in type") || strings.Contains(err.Error(), "time.Duration") {
				t.Errorf("error %q names a Go type", err)
			}
		})
	}
}

func TestOptionErrorsHaveTheirLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "accounts:\n  - name: shop\n    provider: sandbox\n    options:\n      latency: 5ms\n      typo: 1\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var into struct {
		Latency time.Duration `yaml:"latency"`
	}
	err = cfg.Accounts[0].DecodeOptions(&into)
	if want := path + ":6: accounts.shop.options.typo: unknown field; in accounts.shop.options the fields are latency"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// The default lane credit holds the job being sent and the next one, ready,
// for jobs of up to 3 MB (a campaign of 25,000 recipients is 2.4 MB), and
// not a third: decoded, each takes about six times its bytes, which kept
// the campaign bench's worker above 150 MB of RSS with 8 MiB.
func TestDefaultLaneHoldsTwoJobs(t *testing.T) {
	const job, perMessage = 3_000_000, 256 // intake counts a message's bytes plus 256
	lane := Default().Worker.LaneBytes
	if lane < 2*(job+perMessage) || lane >= 3*(2_400_000+perMessage) {
		t.Errorf("worker.lane_bytes default %d: want room for two 3 MB jobs and not for three of 2.4 MB", lane)
	}
}
