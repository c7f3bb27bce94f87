// Package streams owns talkrelay's NATS JetStream topology: the subjects
// producers and consumers use, the streams that store them and the durable
// consumer the workers share.
//
// Subjects:
//
//	talkrelay.jobs.<account>.<kind>        send jobs (stream TALKRELAY_JOBS, work queue)
//	talkrelay.results.<account>.<status>   result events (stream TALKRELAY_RESULTS)
//	talkrelay.dlq.<account>                dead-lettered jobs (stream TALKRELAY_DLQ)
//
// <account> is the job's account name ("_" when a rejected job has none that
// is usable), <kind> is alimtalk or friendtalk and <status> is accepted,
// failed or rejected. Producers route by account; consumers filter results
// with wildcards such as talkrelay.results.shop.failed or
// talkrelay.results.*.rejected.
package streams

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream and consumer names.
const (
	JobsStream    = "TALKRELAY_JOBS"
	ResultsStream = "TALKRELAY_RESULTS"
	DLQStream     = "TALKRELAY_DLQ"
	// WorkerConsumer is the durable pull consumer all worker replicas share.
	WorkerConsumer = "talkrelay-worker"
)

// Subject prefixes.
const (
	JobsPrefix    = "talkrelay.jobs"
	ResultsPrefix = "talkrelay.results"
	DLQPrefix     = "talkrelay.dlq"
)

// NoAccount is the subject token used when a job carries no usable account.
const NoAccount = "_"

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Token returns s if it is a safe subject token, NoAccount otherwise.
func Token(s string) string {
	if tokenRE.MatchString(s) {
		return s
	}
	return NoAccount
}

// JobSubject is where a job for account and kind is published.
func JobSubject(account, kind string) string {
	return JobsPrefix + "." + Token(account) + "." + Token(kind)
}

// ResultSubject is where a result with the given status is published.
func ResultSubject(account, status string) string {
	return ResultsPrefix + "." + Token(account) + "." + status
}

// DLQSubject is where a dead-lettered job of account is copied.
func DLQSubject(account string) string { return DLQPrefix + "." + Token(account) }

// Headers set on talkrelay's messages.
const (
	// HeaderReason carries why a job was dead-lettered.
	HeaderReason = "Talkrelay-Reason"
	// HeaderJobID carries the job id on dead letters.
	HeaderJobID = "Talkrelay-Job-Id"
	// HeaderSubject carries the subject a dead-lettered job was published to.
	HeaderSubject = "Talkrelay-Subject"
)

// Config sizes the streams. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// Replicas of each stream: 1 on a single server, 3 in production clusters.
	Replicas int `yaml:"replicas"`
	// JobsDuplicateWindow is how long a job id is remembered for
	// de-duplication (Nats-Msg-Id).
	JobsDuplicateWindow time.Duration `yaml:"jobs_duplicate_window"`
	// ResultsMaxAge is how long result events are kept.
	ResultsMaxAge time.Duration `yaml:"results_max_age"`
	// DLQMaxAge is how long dead letters are kept.
	DLQMaxAge time.Duration `yaml:"dlq_max_age"`
	// MaxMsgSize caps a job message in bytes (the server's max_payload caps it too).
	MaxMsgSize int32 `yaml:"max_msg_size"`
}

// DefaultConfig returns the defaults used when the config file says nothing.
func DefaultConfig() Config {
	return Config{
		Replicas:            1,
		JobsDuplicateWindow: time.Hour,
		ResultsMaxAge:       7 * 24 * time.Hour,
		DLQMaxAge:           30 * 24 * time.Hour,
		MaxMsgSize:          8 << 20,
	}
}

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("streams.replicas: %d is out of range 1..5", c.Replicas)
	case c.JobsDuplicateWindow < time.Second:
		return fmt.Errorf("streams.jobs_duplicate_window: %s is shorter than 1s", c.JobsDuplicateWindow)
	case c.ResultsMaxAge < time.Minute:
		return fmt.Errorf("streams.results_max_age: %s is shorter than 1m", c.ResultsMaxAge)
	case c.DLQMaxAge < time.Minute:
		return fmt.Errorf("streams.dlq_max_age: %s is shorter than 1m", c.DLQMaxAge)
	case c.MaxMsgSize < 1024:
		return fmt.Errorf("streams.max_msg_size: %d is below 1024 bytes", c.MaxMsgSize)
	}
	return nil
}

// StreamConfigs returns the configuration of the three streams.
func (c Config) StreamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        JobsStream,
			Description: "talkrelay send jobs",
			Subjects:    []string{JobsPrefix + ".>"},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Duplicates:  c.JobsDuplicateWindow,
			MaxMsgSize:  c.MaxMsgSize,
		},
		{
			Name:        ResultsStream,
			Description: "talkrelay result events, one per recipient",
			Subjects:    []string{ResultsPrefix + ".>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			MaxAge:      c.ResultsMaxAge,
			Duplicates:  2 * time.Minute,
		},
		{
			Name:        DLQStream,
			Description: "talkrelay dead-lettered jobs, with the reason in the Talkrelay-Reason header",
			Subjects:    []string{DLQPrefix + ".>"},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			MaxAge:      c.DLQMaxAge,
			Duplicates:  2 * time.Minute,
		},
	}
}

// Ensure creates the streams or updates them to c. It is idempotent and safe
// to run from several workers at once.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) error {
	for _, sc := range c.StreamConfigs() {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("streams: create or update %s: %w", sc.Name, err)
		}
	}
	return nil
}

// ErrNotSetUp is returned by Check when the jobs stream does not exist yet.
var ErrNotSetUp = errors.New("the talkrelay streams do not exist yet: start a worker once against this NATS server, it creates them")

// Check verifies that the jobs stream exists, for producers that must not
// create streams themselves.
func Check(ctx context.Context, js jetstream.JetStream) error {
	_, err := js.Stream(ctx, JobsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return ErrNotSetUp
	}
	if err != nil {
		return fmt.Errorf("streams: look up %s: %w", JobsStream, err)
	}
	return nil
}
