// Package config is the worker's configuration: a YAML file, the
// environment, and defaults for everything, so that a worker with no
// settings at all runs on an embedded NATS server with a sandbox account.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/natsconn"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Config is the whole worker configuration. See config.example.yaml.
type Config struct {
	NATS     natsconn.Config `yaml:"nats"`
	Streams  streams.Config  `yaml:"streams"`
	Worker   Worker          `yaml:"worker"`
	HTTP     HTTP            `yaml:"http"`
	Webhook  Webhook         `yaml:"webhook"`
	Log      Log             `yaml:"log"`
	Accounts []Account       `yaml:"accounts"`

	places *places // where each path is in the file, for error messages
}

// Worker tunes consumption, batching and shutdown.
type Worker struct {
	// Consumer prefixes the durable consumers shared by all replicas: one
	// per account and lane, <consumer>-<account> and
	// <consumer>-<account>-urgent.
	Consumer string `yaml:"consumer"`
	// AckWait is how long a job may stay unacknowledged before NATS
	// redelivers it; the worker extends it while a job is in progress.
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAckPending caps one account lane's jobs in flight across all
	// replicas.
	MaxAckPending int `yaml:"max_ack_pending"`
	// PullBatch is the most jobs one replica holds per account lane.
	PullBatch int `yaml:"pull_batch"`
	// LaneBytes is the most job bytes one replica holds per account lane
	// (a lane holding nothing may always take one job). A decoded job
	// takes about six times its bytes in memory until it is done: the
	// default, 6 MiB, holds two jobs of up to 3 MB (the one being sent and
	// the next, ready), not a third that would only wait, in memory.
	LaneBytes int `yaml:"lane_bytes"`
	// Decoders is how many goroutines per account lane decode and start
	// jobs (default: CPUs).
	Decoders int `yaml:"decoders"`
	// Linger is how long a batch waits for more recipients before it is sent.
	Linger time.Duration `yaml:"linger"`
	// MaxJobBytes rejects larger jobs as oversized.
	MaxJobBytes int `yaml:"max_job_bytes"`
	// ShutdownGrace bounds how long SIGTERM waits for in-flight batches.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// MaxDeliver stops a job that was delivered this many times (poison).
	MaxDeliver int `yaml:"max_deliver"`
}

// HTTP is the health and metrics listener.
type HTTP struct {
	// Addr to listen on for /healthz, /readyz and /metrics; empty disables it.
	Addr string `yaml:"addr"`
}

// Log configures logging.
type Log struct {
	// Level: debug, info, warn, error.
	Level string `yaml:"level"`
	// Format: json, console, or auto (console on a terminal).
	Format string `yaml:"format"`
}

// Account is one provider account jobs can be sent through.
type Account struct {
	// Name is what jobs put in "account"; a subject token.
	Name string `yaml:"name"`
	// Provider is sandbox, naver, nhn or kakao.
	Provider string `yaml:"provider"`
	// BaseURL overrides the provider's default host.
	BaseURL string `yaml:"base_url"`
	// Sender is the default sender profile for jobs that name none.
	Sender string `yaml:"sender"`
	// Credentials by name, each from the environment or a file.
	Credentials map[string]Secret `yaml:"credentials"`
	// RateLimit keeps the account within its provider quota.
	RateLimit ratelimit.Config `yaml:"rate_limit"`
	// MaxConcurrency caps provider calls in flight, sends and lookups
	// (default 16).
	MaxConcurrency int `yaml:"max_concurrency"`
	// RequestTimeout bounds one provider request: a send, or each request
	// of a lookup from its admission by the rate limiter (default 30s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Retry is the account's retry policy; unset fields take the defaults
	// of retry.DefaultPolicy.
	Retry retry.Policy `yaml:"retry"`
	// NightAds is what becomes of an ad FriendTalk job that comes in
	// Kakao's ad night (20:50-08:00 KST): NightAdsReject (the default) or
	// NightAdsHold.
	NightAds string `yaml:"night_ads"`
	// Reports is how the account's delivery reports are polled.
	Reports report.Config `yaml:"reports"`
	// DailyQuota is what becomes of a job whose sender's daily quota
	// (NHN's dailyMaxCount) is spent: DailyQuotaHold (the default) or
	// DailyQuotaFail.
	DailyQuota string `yaml:"daily_quota"`
	// Options are the provider's own settings.
	Options yaml.Node `yaml:"options"`

	places *places // of the file the account is from, for DecodeOptions
}

// The values of Account.NightAds.
const (
	// NightAdsReject: the provider's check rejects the job's recipients.
	NightAdsReject = "reject"
	// NightAdsHold: the job is scheduled in JetStream for 08:00 KST (or
	// fails, if its deadline comes first) and sent then.
	NightAdsHold = "hold"
)

// The values of Account.DailyQuota.
const (
	// DailyQuotaHold: the job's recipients wait (scheduled in JetStream)
	// until the provider's day rolls over, or fail with deadline_exceeded
	// when their deadline comes first.
	DailyQuotaHold = "hold"
	// DailyQuotaFail: the recipients fail at once (provider_rejected).
	DailyQuotaFail = "fail"
)

// Secret is a credential read from the environment or a file at start-up,
// never from a job. Exactly one of Env, File or Value is set; Value (inline)
// is for local trials only.
type Secret struct {
	Env   string `yaml:"env"`
	File  string `yaml:"file"`
	Value string `yaml:"value"`
}

// Resolve returns the secret's value.
func (s Secret) Resolve() (string, error) {
	switch {
	case s.Env != "" && s.File == "" && s.Value == "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.File != "" && s.Env == "" && s.Value == "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", err
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("file %s is empty", s.File)
		}
		return v, nil
	case s.Value != "" && s.Env == "" && s.File == "":
		return s.Value, nil
	}
	return "", errors.New("set exactly one of env, file or value")
}

// Default returns the configuration used when no file is given: embedded
// NATS and one sandbox account named "sandbox".
func Default() *Config {
	c := &Config{Streams: streams.DefaultConfig()}
	c.NATS.Defaults()
	c.Worker = Worker{
		Consumer:      streams.WorkerConsumer,
		AckWait:       time.Minute,
		MaxAckPending: 20000,
		PullBatch:     4000,
		LaneBytes:     6 << 20,
		Linger:        20 * time.Millisecond,
		MaxJobBytes:   4 << 20,
		ShutdownGrace: 30 * time.Second,
		MaxDeliver:    10,
	}
	c.HTTP.Addr = "127.0.0.1:8080"
	c.Log = Log{Level: "info", Format: "auto"}
	return c
}

// SandboxAccount is the account a config without accounts gets.
func SandboxAccount() Account {
	return Account{Name: "sandbox", Provider: "sandbox", Sender: "@talkrelay-sandbox"}
}

// Load reads the YAML file at path over the defaults (an empty path reads
// nothing), then applies the environment. Unknown fields are errors, and
// so is a file with no settings. Errors name FILE:LINE and the YAML path.
func Load(path string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist", path)
		}
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		c.places = newPlaces(path)
		if err := c.decode(data); err != nil {
			return nil, err
		}
		for i := range c.Accounts {
			c.Accounts[i].places = c.places
		}
	}
	c.applyEnv()
	if len(c.Accounts) == 0 {
		c.Accounts = []Account{SandboxAccount()}
	}
	c.ApplyDefaults()
	return c, nil
}

func (c *Config) decode(data []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		// "yaml: line 3: mapping values are not allowed in this context"
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			return &Error{msg: c.places.file + ":" + m[1] + ": not YAML: " + m[2]}
		}
		return &Error{msg: c.places.file + ": not YAML: " + msg}
	}
	if len(root.Content) == 0 || root.Content[0].Tag == "!!null" {
		return &Error{msg: c.places.file + " is empty: give the sections to change (see config.example.yaml), or no --config for the defaults"}
	}
	if err := c.places.check(&root, reflect.TypeOf(c).Elem(), ""); err != nil {
		return err
	}
	return c.places.decode(&root, c)
}

// Error is a mistake in the configuration, said with FILE:LINE and the
// YAML path when they are known.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// Line returns the line of a YAML path in the file, 0 if the file does not
// set it.
func (c *Config) Line(path string) int {
	if c.places == nil {
		return 0
	}
	return c.places.line[path]
}

// Locate returns err with the FILE:LINE of the YAML path it starts with
// (accounts.shop.provider: ...), as an *Error; other errors come back
// unchanged.
func (c *Config) Locate(err error) error {
	var ce *Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return c.places.locate(err)
}

// applyEnv applies the NATS tools' environment variables over the file.
func (c *Config) applyEnv() {
	set := func(name string, dst *string) {
		if v, ok := os.LookupEnv(name); ok {
			*dst = v
		}
	}
	set("NATS_URL", &c.NATS.URL)
	set("NATS_CREDS", &c.NATS.Creds)
	set("NATS_NKEY", &c.NATS.NKey)
	set("NATS_USER", &c.NATS.User)
	set("NATS_PASSWORD", &c.NATS.Password)
	set("NATS_TOKEN", &c.NATS.Token)
}

// ApplyDefaults fills the unset fields that have defaults. Load calls it;
// call it on a Config built in code. It is idempotent.
func (c *Config) ApplyDefaults() {
	c.NATS.Defaults()
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if a.MaxConcurrency == 0 {
			a.MaxConcurrency = 16
		}
		if a.RequestTimeout == 0 {
			a.RequestTimeout = 30 * time.Second
		}
		a.Retry = a.Retry.WithDefaults()
		if a.NightAds == "" {
			a.NightAds = NightAdsReject
		}
		a.Reports.Defaults()
		if a.DailyQuota == "" {
			a.DailyQuota = DailyQuotaHold
		}
	}
}

// Validate checks everything that can be checked without the network and
// names the offending field, with its line in the file.
func (c *Config) Validate() error { return c.Locate(c.validate()) }

func (c *Config) validate() error {
	if err := c.NATS.Validate(); err != nil {
		return err
	}
	if err := c.Streams.Validate(); err != nil {
		return err
	}
	w := c.Worker
	switch {
	case w.Consumer == "" || streamsToken(w.Consumer) != w.Consumer:
		return fmt.Errorf("worker.consumer: %q must be letters, digits, - or _", w.Consumer)
	case w.AckWait < time.Second:
		return fmt.Errorf("worker.ack_wait: %s is shorter than 1s", w.AckWait)
	case w.MaxAckPending < 1:
		return fmt.Errorf("worker.max_ack_pending: %d must be at least 1", w.MaxAckPending)
	case w.PullBatch < 1 || w.PullBatch > w.MaxAckPending:
		return fmt.Errorf("worker.pull_batch: %d must be 1..max_ack_pending (%d)", w.PullBatch, w.MaxAckPending)
	case w.LaneBytes < 1024:
		return fmt.Errorf("worker.lane_bytes: %d is below 1024", w.LaneBytes)
	case w.Decoders < 0:
		return fmt.Errorf("worker.decoders: %d is negative", w.Decoders)
	case w.Linger < 0 || w.Linger > 10*time.Second:
		return fmt.Errorf("worker.linger: %s is out of range 0..10s", w.Linger)
	case w.MaxJobBytes < 1024:
		return fmt.Errorf("worker.max_job_bytes: %d is below 1024", w.MaxJobBytes)
	case w.ShutdownGrace < 0:
		return fmt.Errorf("worker.shutdown_grace: %s is negative", w.ShutdownGrace)
	case w.MaxDeliver < 1:
		return fmt.Errorf("worker.max_deliver: %d must be at least 1", w.MaxDeliver)
	}
	if c.HTTP.Addr != "" {
		if err := checkAddr(c.HTTP.Addr); err != nil {
			return fmt.Errorf("http.addr: %w", err)
		}
	}
	if err := c.Webhook.validate(c.Accounts); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console", "auto":
	default:
		return fmt.Errorf("log.format: %q is not one of json, console, auto", c.Log.Format)
	}
	seen := map[string]bool{}
	for i, a := range c.Accounts {
		field := fmt.Sprintf("accounts[%d]", i)
		if a.Name != "" {
			field = "accounts." + a.Name
		}
		switch {
		case a.Name == "" || streamsToken(a.Name) != a.Name:
			return fmt.Errorf("%s.name: %q must be 1-64 letters, digits, - or _", field, a.Name)
		case seen[a.Name]:
			return fmt.Errorf("%s.name: defined twice", field)
		case a.Provider == "":
			return fmt.Errorf("%s.provider: required (sandbox, naver, nhn or kakao)", field)
		case a.MaxConcurrency < 1:
			return fmt.Errorf("%s.max_concurrency: %d must be at least 1", field, a.MaxConcurrency)
		case a.RequestTimeout < 100*time.Millisecond:
			return fmt.Errorf("%s.request_timeout: %s is shorter than 100ms", field, a.RequestTimeout)
		case a.NightAds != NightAdsReject && a.NightAds != NightAdsHold:
			return fmt.Errorf("%s.night_ads: %q is not one of reject, hold", field, a.NightAds)
		case a.DailyQuota != DailyQuotaHold && a.DailyQuota != DailyQuotaFail:
			return fmt.Errorf("%s.daily_quota: %q is not one of hold, fail", field, a.DailyQuota)
		}
		seen[a.Name] = true
		if err := a.RateLimit.Validate(); err != nil {
			return fmt.Errorf("%s.rate_limit.%w", field, err)
		}
		if err := a.Retry.Validate(); err != nil {
			return fmt.Errorf("%s.retry.%w", field, err)
		}
		if err := a.Reports.Validate(); err != nil {
			return fmt.Errorf("%s.reports.%w", field, err)
		}
		for name, s := range a.Credentials {
			if _, err := s.Resolve(); err != nil {
				return fmt.Errorf("%s.credentials.%s: %w", field, name, err)
			}
		}
	}
	return nil
}

func streamsToken(s string) string { return streams.Token(s) }

// checkAddr checks a listen address: HOST:PORT, the host possibly empty.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (such as 127.0.0.1:8080 or :8080)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number 0..65535", addr, port)
	}
	return nil
}

// ResolveCredentials returns an account's secrets by name.
func (a *Account) ResolveCredentials() (map[string]string, error) {
	out := make(map[string]string, len(a.Credentials))
	for name, s := range a.Credentials {
		v, err := s.Resolve()
		if err != nil {
			return nil, fmt.Errorf("accounts.%s.credentials.%s: %w", a.Name, name, err)
		}
		out[name] = v
	}
	return out, nil
}

// DecodeOptions decodes the account's provider options into v, failing on
// unknown fields; errors are *Error, with the line and path.
func (a *Account) DecodeOptions(v any) error {
	if a.Options.Kind == 0 {
		return nil
	}
	p := a.places
	if p == nil {
		p = newPlaces("")
	}
	if err := p.check(&a.Options, reflect.TypeOf(v), "accounts."+a.Name+".options"); err != nil {
		return err
	}
	return p.decode(&a.Options, v)
}
