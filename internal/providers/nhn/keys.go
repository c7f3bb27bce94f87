package nhn

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// groupingKeyMax is NHN's limit for senderGroupingKey and recipientGroupingKey.
const groupingKeyMax = 100

// IdempotencyKey is the X-NC-API-IDEMPOTENCY-KEY of a batch: "tr1-" and 40
// hex digits of SHA-256 over the batch's identity. Batch.ID changes with
// the messages and their attempt, so a repeated call of the same attempt
// (a redelivered NATS message, a restarted worker) carries the same key and
// NHN refuses the duplicate with -1005, while a deliberate retry (the next
// attempt) carries a new one.
func IdempotencyKey(b *providers.Batch) string {
	return "tr1-" + digest(batchIdentity(b), 40)
}

// SenderGroupingKey is the senderGroupingKey of a batch: the batch ID itself
// when it is short and plain, else "h-" and a hash of it. Reconciliation
// recomputes it from the batch ID to query NHN's list API.
func SenderGroupingKey(b *providers.Batch) string {
	return groupingKey(batchIdentity(b))
}

// RecipientGroupingKey is the recipientGroupingKey of recipient index of
// job jobID: "<jobID>/<index>" when that fits, else a hash of the job ID
// and the index. It does not change between attempts, so NHN's list API
// finds every attempt of one recipient by it.
func RecipientGroupingKey(jobID string, index int) string {
	var w recipientKeys
	return string(w.append(make([]byte, 0, 64), jobID, index))
}

// recipientKeys writes recipientGroupingKeys, working out whether a job
// id is plain (and its hash if not) once for consecutive recipients of a
// job, not for each.
type recipientKeys struct {
	jobID  string
	plain  bool
	digest string // of jobID, when it is needed
}

// append appends RecipientGroupingKey(jobID, index) to b.
func (w *recipientKeys) append(b []byte, jobID string, index int) []byte {
	if jobID != w.jobID {
		*w = recipientKeys{jobID: jobID, plain: plain(jobID)}
	}
	start := len(b)
	if w.plain {
		b = append(b, jobID...)
		b = strconv.AppendInt(append(b, '/'), int64(index), 10)
		if len(b)-start <= groupingKeyMax {
			return b
		}
		b = b[:start]
	}
	if w.digest == "" {
		w.digest = digest(jobID, 48)
	}
	b = append(append(b, "h-"...), w.digest...)
	return strconv.AppendInt(append(b, '/'), int64(index), 10)
}

// setRecipientKeys sets the recipientGroupingKey of every message of b in
// sent, all cut from one string: a request's keys cost two allocations,
// not two each.
func setRecipientKeys(b *providers.Batch, sent []sentRecipient) {
	var w recipientKeys
	keys, ends := make([]byte, 0, 24*len(b.Messages)), make([]int, len(b.Messages))
	for i, m := range b.Messages {
		keys = w.append(keys, m.Job.ID, m.Index)
		ends[i] = len(keys)
	}
	all, start := string(keys), 0
	for i, end := range ends {
		sent[i].groupingKey, start = all[start:end], end
	}
}

// batchIdentity is Batch.ID, or, should a caller leave it empty, the same
// kind of identity built from the messages (job id, index, attempt).
func batchIdentity(b *providers.Batch) string {
	if b.ID != "" {
		return b.ID
	}
	var sb strings.Builder
	for _, m := range b.Messages {
		id := ""
		if m.Job != nil {
			id = m.Job.ID
		}
		sb.WriteString(id + "\x00" + strconv.Itoa(m.Index) + "\x00" + strconv.Itoa(m.Attempt) + "\x00")
	}
	return "m-" + digest(sb.String(), 40)
}

func groupingKey(s string) string {
	if len(s) <= groupingKeyMax && plain(s) {
		return s
	}
	return "h-" + digest(s, 48)
}

// plain reports whether s is non-empty and made only of characters that
// survive query strings and consoles unchanged (the job id alphabet).
func plain(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.ContainsRune("._:@=-", c):
		default:
			return false
		}
	}
	return true
}

func digest(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])[:n]
}
