package streams

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Delivery reports: what became of an accepted message on the phone.
//
//	talkrelay.reports.<account>.<state>.<job>   report events (stream TALKRELAY_REPORTS)
//
// <state> is delivered, failed, fallback_sent, fallback_failed or expired;
// <account> and <job> are tokens as in the result subjects.
const (
	ReportsStream = "TALKRELAY_REPORTS"
	ReportsPrefix = "talkrelay.reports"
	// ReportsBucket is the KV bucket of the report pollers: per account a
	// lease (which replica polls) and a cursor (where polling goes on).
	ReportsBucket = "talkrelay_reports"
	// ReportsDuplicateWindow is how long the reports stream remembers a
	// report's Nats-Msg-Id: longer than a poller's lease, so that a
	// replica taking over re-publishes nothing its predecessor stored.
	ReportsDuplicateWindow = 10 * time.Minute
)

// ReportSubject is where a report of job jobID in state is published.
func ReportSubject(account, state, jobID string) string {
	return ReportsPrefix + "." + Token(account) + "." + state + "." + JobToken(jobID)
}

// JobReportsFilter matches every report of one job.
func JobReportsFilter(account, jobID string) string {
	return ReportsPrefix + "." + Token(account) + ".*." + JobToken(jobID)
}

func (c Config) reportsStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        ReportsStream,
		Description: "talkrelay delivery reports, one terminal report per accepted recipient",
		Subjects:    []string{ReportsPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		MaxAge:      c.ResultsMaxAge,
		Duplicates:  ReportsDuplicateWindow,
		AllowDirect: true,
	}
}

// ReportsConfig is the configuration of the report pollers' bucket.
func (c Config) ReportsConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      ReportsBucket,
		Description: "talkrelay report pollers: lease and cursor per account",
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}
}
