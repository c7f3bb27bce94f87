package streams

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CancelsBucket is the KV bucket of cancel markers: one per cancelled job,
// which every worker watches and checks before it sends.
const CancelsBucket = "talkrelay_cancels"

// CancelPrefix prefixes the subjects services send cancel requests to.
const CancelPrefix = "talkrelay.cancel"

// CancelsMaxAge is how long a cancel marker is kept: longer than the
// furthest reservation talkrelay holds (366 days), so a held
// job is never sent after a cancel was forgotten.
const CancelsMaxAge = 400 * 24 * time.Hour

// CancelSubject is where a cancel request for a job of account goes.
func CancelSubject(account string) string { return CancelPrefix + "." + Token(account) }

// CancelKey is the key of the cancel marker of job jobID of account.
func CancelKey(account, jobID string) string { return Token(account) + "." + HashToken(jobID) }

// CancelsConfig is the configuration of the cancel-markers bucket.
func (c Config) CancelsConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      CancelsBucket,
		Description: "talkrelay cancel markers: jobs cancelled through talkrelay.cancel.<account>",
		TTL:         CancelsMaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}
}
