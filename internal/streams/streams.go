// Package streams owns talkrelay's NATS JetStream topology: the subjects
// producers and consumers use, the streams that store them and the durable
// consumer the workers share.
//
// Subjects:
//
//	talkrelay.jobs.<account>.<kind>              send jobs (stream TALKRELAY_JOBS, work queue)
//	talkrelay.jobs.<account>.<kind>.urgent       urgent send jobs: they overtake the account's queued jobs
//	talkrelay.results.<account>.<status>.<job>   result events (stream TALKRELAY_RESULTS)
//	talkrelay.dlq.<account>                      dead-lettered jobs (stream TALKRELAY_DLQ)
//
// <account> is the job's account name ("_" when it is not a subject token;
// a job is rejected unless its body's account and kind are its subject's,
// and results of a rejected job go to its subject's account), <kind> is alimtalk or friendtalk, <status> is accepted,
// failed, rejected or unknown and <job> is the job's id with every "." made
// "%" (JobToken). Producers route by account; consumers filter results with
// wildcards such as talkrelay.results.shop.failed.> or
// talkrelay.results.*.rejected.>, or follow one job with
// talkrelay.results.shop.*.order-1234.
//
// Internal subjects, in the jobs stream:
//
//	talkrelay.retry.<account>               recipients due for another attempt or a lookup
//	talkrelay.retry.<account>.urgent        the same for urgent jobs
//	talkrelay.sched.<account>.<id>          the same, held until due (a JetStream schedule)
package streams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream and consumer names.
const (
	JobsStream    = "TALKRELAY_JOBS"
	ResultsStream = "TALKRELAY_RESULTS"
	DLQStream     = "TALKRELAY_DLQ"
	// PoisonStream keeps the max-deliveries advisories of the jobs
	// stream's consumers until a worker has dead-lettered their jobs.
	PoisonStream = "TALKRELAY_POISON"
	// WorkerConsumer prefixes the durable pull consumers the worker
	// replicas share: <WorkerConsumer>-<account> and
	// <WorkerConsumer>-<account>-urgent (see internal/intake).
	WorkerConsumer = "talkrelay-worker"
)

// Subject prefixes.
const (
	JobsPrefix     = "talkrelay.jobs"
	RetryPrefix    = "talkrelay.retry"
	SchedulePrefix = "talkrelay.sched"
	ResultsPrefix  = "talkrelay.results"
	DLQPrefix      = "talkrelay.dlq"
)

// MaxDeliveriesSubject is where NATS announces, for every consumer of the
// jobs stream, a message that reached its consumer's max deliveries (a
// poison job). The poison stream stores these advisories, so that none is
// lost while no worker runs.
const MaxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + JobsStream + ".*"

// SendsBucket is the KV bucket of send records: which recipients of a job
// were handed to a provider, at which attempt, in which batch.
const SendsBucket = "talkrelay_sends"

// DefaultAPIPrefix is the JetStream API subject prefix of the account's own
// JetStream, without a domain.
const DefaultAPIPrefix = "$JS.API"

// APIPrefix is the subject prefix, without its trailing dot, that js sends
// its API requests to: "$JS.<domain>.API" for a JetStream domain, the
// prefix js was made with, else DefaultAPIPrefix. Subjects built by hand
// for js (direct gets, raw KV writes) must honour it as js does.
func APIPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API"
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".")
	}
	return DefaultAPIPrefix
}

// SendsSubject is the subject that writes key into the send-records bucket
// of the JetStream with API prefix apiPrefix (see APIPrefix), as nats.go's
// KeyValue.Put writes it: $KV.talkrelay_sends.<key>, behind the API prefix
// when that is not the default (a leaf node's account reaches another
// domain's bucket through $JS.<domain>.API.$KV.>). The bucket stores it as
// $KV.talkrelay_sends.<key> either way.
func SendsSubject(apiPrefix, key string) string {
	s := "$KV." + SendsBucket + "." + key
	if apiPrefix != "" && apiPrefix != DefaultAPIPrefix {
		s = apiPrefix + "." + s
	}
	return s
}

// NoAccount is the subject token used when a job carries no usable account.
const NoAccount = "_"

// Token returns s if it is a safe subject token (1-64 letters, digits,
// - or _), NoAccount otherwise.
func Token(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return NoAccount
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(alnum(c) || c == '-' || c == '_') {
			return NoAccount
		}
	}
	return s
}

func alnum(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// JobSubject is where a job for account and kind is published.
func JobSubject(account, kind string) string {
	return JobsPrefix + "." + Token(account) + "." + Token(kind)
}

// ParseJobSubject reads the account token and kind of a job subject,
// talkrelay.jobs.<account>.<kind>[.urgent]; ok is false for any other
// subject. The account token is the job's account as Token maps it.
func ParseJobSubject(subject string) (account, kind string, urgent, ok bool) {
	rest, found := strings.CutPrefix(subject, JobsPrefix+".")
	if !found {
		return "", "", false, false
	}
	// Cut, not Split: this runs for every job, and Split allocates.
	account, rest, _ = strings.Cut(rest, ".")
	kind, rest, more := strings.Cut(rest, ".")
	switch {
	case !more:
	case rest == UrgentSuffix:
		urgent = true
	default:
		return "", "", false, false
	}
	if account == "" || kind == "" {
		return "", "", false, false
	}
	return account, kind, urgent, true
}

// ResultSubject is where a result of job jobID with the given status is
// published.
func ResultSubject(account, status, jobID string) string {
	var b [MaxResultSubjectLen]byte
	return string(AppendResultSubject(b[:0], account, status, jobID))
}

// MaxResultSubjectLen is the most bytes a result subject takes: an
// account token of 64, a status of 8 and a job token of 128.
const MaxResultSubjectLen = len(ResultsPrefix) + 1 + 64 + 1 + 8 + 1 + 128

// AppendResultSubject appends ResultSubject(account, status, jobID) to b.
func AppendResultSubject(b []byte, account, status, jobID string) []byte {
	b = append(append(b, ResultsPrefix...), '.')
	b = append(append(b, Token(account)...), '.')
	b = append(append(b, status...), '.')
	return append(b, JobToken(jobID)...)
}

// UrgentSuffix is the last token of an urgent job's subject.
const UrgentSuffix = "urgent"

// JobSubjectFor is where a job for account and kind is published: the
// urgent lane when urgent is set, else JobSubject.
func JobSubjectFor(account, kind string, urgent bool) string {
	if urgent {
		return JobSubject(account, kind) + "." + UrgentSuffix
	}
	return JobSubject(account, kind)
}

// JobResultsFilter matches every result of one job.
func JobResultsFilter(account, jobID string) string {
	return ResultsPrefix + "." + Token(account) + ".*." + JobToken(jobID)
}

// JobToken is a job id as one subject token: its dots become "%", which a
// job id cannot contain. An id that is not a valid job id (the schema's
// pattern ^[A-Za-z0-9][A-Za-z0-9._:@=+-]{0,127}$) gives NoAccount.
func JobToken(id string) string {
	if len(id) == 0 || len(id) > 128 || !alnum(id[0]) {
		return NoAccount
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !(alnum(c) || strings.IndexByte("._:@=+-", c) >= 0) {
			return NoAccount
		}
	}
	return strings.ReplaceAll(id, ".", "%")
}

// RetrySubject is where recipients of an account's job come back for
// another attempt or a lookup.
func RetrySubject(account string) string { return RetryPrefix + "." + Token(account) }

// RetrySubjectFor is RetrySubject of the urgent lane when urgent is set.
func RetrySubjectFor(account string, urgent bool) string {
	if urgent {
		return RetrySubject(account) + "." + UrgentSuffix
	}
	return RetrySubject(account)
}

// ScheduleSubject holds a retry until it is due; id makes it unique.
func ScheduleSubject(account, id string) string {
	return SchedulePrefix + "." + Token(account) + "." + id
}

// HashToken is a short digest of s that is safe as a subject token and as
// a key token: the hex of the first 12 bytes of its SHA-256. Schedule
// subjects and send-record keys name envelopes by it.
func HashToken(s string) string {
	var b [HashTokenLen]byte
	return string(AppendHashToken(b[:0], s))
}

// HashTokenLen is the length of a HashToken.
const HashTokenLen = 24

// AppendHashToken appends HashToken(s) to b.
func AppendHashToken(b []byte, s string) []byte {
	h := sha256.Sum256([]byte(s))
	return hex.AppendEncode(b, h[:HashTokenLen/2])
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
	// HeaderRecipients lists the recipient indexes a dead letter is about.
	HeaderRecipients = "Talkrelay-Recipients"
	// HeaderJobSeq carries, on result events, the jobs-stream sequence of
	// the job message they answer (a job published twice has two).
	HeaderJobSeq = "Talkrelay-Job-Seq"
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
	// SendRecordsMaxAge is the most send records are kept; longer than any
	// job's retries and redeliveries last. The workers purge them sooner,
	// once nothing can need them (reconcile.Sweep).
	SendRecordsMaxAge time.Duration `yaml:"send_records_max_age"`
}

// DefaultConfig returns the defaults used when the config file says nothing.
func DefaultConfig() Config {
	return Config{
		Replicas:            1,
		JobsDuplicateWindow: time.Hour,
		ResultsMaxAge:       7 * 24 * time.Hour,
		DLQMaxAge:           30 * 24 * time.Hour,
		MaxMsgSize:          8 << 20,
		SendRecordsMaxAge:   7 * 24 * time.Hour,
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
	case c.SendRecordsMaxAge < time.Hour:
		return fmt.Errorf("streams.send_records_max_age: %s is shorter than 1h", c.SendRecordsMaxAge)
	}
	return nil
}

// StreamConfigs returns the configuration of the streams.
func (c Config) StreamConfigs() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        JobsStream,
			Description: "talkrelay send jobs, and retries of their recipients",
			// Only the job subjects workers consume: a job published
			// anywhere else under talkrelay.jobs is refused at publish
			// time ("no responders") instead of waiting for no one.
			Subjects: []string{JobsPrefix + ".*.*", JobsPrefix + ".*.*." + UrgentSuffix,
				RetryPrefix + ".>", SchedulePrefix + ".>"},
			Retention:  jetstream.WorkQueuePolicy,
			Storage:    jetstream.FileStorage,
			Replicas:   c.Replicas,
			Duplicates: c.JobsDuplicateWindow,
			MaxMsgSize: c.MaxMsgSize,
			// Retries wait in the stream as schedules until they are due.
			AllowMsgSchedules: true,
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
			// Workers read a job's stored results in batches by subject
			// (duplicate checks) without creating consumers.
			AllowDirect: true,
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
		{
			Name:        PoisonStream,
			Description: "max-deliveries advisories of the talkrelay jobs consumers, kept until a worker dead-letters the job",
			Subjects:    []string{MaxDeliveriesSubject},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			MaxAge:      c.DLQMaxAge,
		},
		c.reportsStream(),
	}
}

// SendsConfig is the configuration of the send-records bucket.
func (c Config) SendsConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      SendsBucket,
		Description: "talkrelay send records: recipients handed to a provider, by provider request; follow-up envelopes, by job",
		TTL:         c.SendRecordsMaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}
}

// Ensure creates the streams and the send-records and cancel-markers
// buckets or updates them to c. It is idempotent and safe to run from
// several workers at once.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) error {
	for _, sc := range c.StreamConfigs() {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("streams: create or update %s: %w", sc.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, c.SendsConfig()); err != nil {
		return fmt.Errorf("streams: create or update bucket %s: %w", SendsBucket, err)
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, c.CancelsConfig()); err != nil {
		return fmt.Errorf("streams: create or update bucket %s: %w", CancelsBucket, err)
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, c.ReportsConfig()); err != nil {
		return fmt.Errorf("streams: create or update bucket %s: %w", ReportsBucket, err)
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

// SubjectCount counts the messages of stream on subjects matching filter,
// from the stream's per-subject state (no message is read).
func SubjectCount(ctx context.Context, js jetstream.JetStream, stream, filter string) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}
