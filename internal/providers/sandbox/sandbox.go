// Package sandbox is an in-process provider that sends nothing. It accepts,
// fails or delays messages as configured, so that talkrelay's whole flow can
// be tried and tested without an account at any real provider.
package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Config is the sandbox's provider options.
type Config struct {
	// BatchLimit is the most messages per request (default 100, as NAVER).
	BatchLimit int `yaml:"batch_limit"`
	// Latency is added to every request (default 0).
	Latency time.Duration `yaml:"latency"`
	// RetryableRate is the share of messages, 0..1, failed with retryable code S520.
	RetryableRate float64 `yaml:"retryable_rate"`
	// PermanentRate is the share of messages, 0..1, failed with permanent code S410.
	PermanentRate float64 `yaml:"permanent_rate"`
	// Seed makes the failure draw repeatable; 0 picks a random seed.
	Seed uint64 `yaml:"seed"`
	// ReportDelay is how long after its accepted result an accepted
	// message's delivery report comes (default 2s).
	ReportDelay time.Duration `yaml:"report_delay"`
	// FallbackRate is the share of accepted messages, 0..1, reported
	// fallback_sent (an SMS sent instead) rather than delivered (default 0.1).
	FallbackRate float64 `yaml:"fallback_rate"`
}

// Validate names the first field out of range.
func (c Config) Validate() error {
	switch {
	case c.BatchLimit < 1 || c.BatchLimit > 10000:
		return fmt.Errorf("batch_limit: %d is out of range 1..10000", c.BatchLimit)
	case c.Latency < 0:
		return fmt.Errorf("latency: %s is negative", c.Latency)
	case c.RetryableRate < 0 || c.PermanentRate < 0 || c.RetryableRate+c.PermanentRate > 1:
		return fmt.Errorf("retryable_rate, permanent_rate: %g and %g must each be >= 0 and sum to at most 1", c.RetryableRate, c.PermanentRate)
	case c.ReportDelay < 0:
		return fmt.Errorf("report_delay: %s is negative", c.ReportDelay)
	case c.FallbackRate < 0 || c.FallbackRate > 1:
		return fmt.Errorf("fallback_rate: %g is out of range 0..1", c.FallbackRate)
	}
	return nil
}

// Codes the sandbox answers with.
const (
	CodeAccepted  = "S200"
	CodeRetryable = "S520"
	CodePermanent = "S410"
)

// Client is the sandbox provider.
type Client struct {
	cfg      Config
	mu       sync.Mutex
	rnd      *rand.Rand
	requests atomic.Int64
}

var _ providers.Provider = (*Client)(nil)

// New builds a sandbox from an account's options.
func New(spec providers.Spec) (providers.Provider, error) {
	cfg := Config{BatchLimit: 100, ReportDelay: 2 * time.Second, FallbackRate: 0.1}
	if err := spec.DecodeOptions(&cfg); err != nil {
		return nil, err
	}
	return NewClient(cfg)
}

// NewClient builds a sandbox from its config.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &Client{cfg: cfg, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}, nil
}

// MaxBatch implements providers.Provider.
func (c *Client) MaxBatch() int { return c.cfg.BatchLimit }

// Check implements providers.Provider: the sandbox needs full content.
func (c *Client) Check(m *providers.Message) error {
	if m.Recipient.Content == "" && m.Job.Kind != job.BrandMessage { // a Brand Message's text is the job's
		return fmt.Errorf("sandbox: recipient has no content (template variables are not rendered by this provider)")
	}
	return nil
}

// Config returns the sandbox's settings.
func (c *Client) Config() Config { return c.cfg }

// Requests returns how many Send calls were made.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Send implements providers.Provider.
func (c *Client) Send(ctx context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	if len(b.Messages) > c.cfg.BatchLimit {
		return nil, &providers.Error{Provider: "sandbox", Class: providers.Permanent,
			Reason: result.ReasonInvalidJob, Message: fmt.Sprintf("batch of %d exceeds limit %d", len(b.Messages), c.cfg.BatchLimit)}
	}
	n := c.requests.Add(1)
	if c.cfg.Latency > 0 {
		t := time.NewTimer(c.cfg.Latency)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	reqID := "sbx-" + strconv.FormatInt(n, 36)
	out := make([]providers.Outcome, len(b.Messages))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range out {
		o := providers.Outcome{RequestID: reqID, MessageID: reqID + "-" + strconv.Itoa(i)}
		switch draw := c.rnd.Float64(); {
		case draw < c.cfg.RetryableRate:
			o.Class, o.Code, o.CodeName, o.Message = providers.Retryable, CodeRetryable, "SandboxRetryable", "sandbox: injected retryable failure"
		case draw < c.cfg.RetryableRate+c.cfg.PermanentRate:
			o.Class, o.Code, o.CodeName, o.Message = providers.Permanent, CodePermanent, "SandboxPermanent", "sandbox: injected permanent failure"
		default:
			o.Class, o.Code, o.CodeName, o.Message = providers.Accepted, CodeAccepted, "success", "accepted by the sandbox"
		}
		out[i] = o
	}
	return out, nil
}
