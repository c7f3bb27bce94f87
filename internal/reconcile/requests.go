package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// A provider request's send record covers every recipient of the request,
// of however many jobs: one write per request, none per job. It is stored
// under
//
//	request.<account token>.<batch id>
//
// ("request" is no job key: those are 24 hex digits), as
//
//	{"at":"<time>","jobs":[{"job":"<job key>","seq":<job seq>,"sends":[[index, attempt], ...]}, ...]}
//
// A redelivered message finds its recipients' records by reading the
// account's request records stored since the message itself was stored
// (every send of it came later), minus the servers' clock skew. Such reads
// are rare (only redeliveries) and shared: a Scan reads an account's
// records once for all the redelivered messages of one group.

// requestKey is the key of the send record of provider request batchID of
// account.
func requestKey(account, batchID string) string {
	return "request." + streams.Token(account) + "." + batchID
}

// requestRecord is the send record of one provider request.
type requestRecord struct {
	At   time.Time  `json:"at"`
	Jobs []jobSends `json:"jobs"`
}

// jobSends is one job's part of a request: its key (dedupe.JobKey), the
// stream sequence of its job message (0 if unknown), and [index, attempt]
// of each of its recipients.
type jobSends struct {
	Key   string   `json:"job"`
	Seq   uint64   `json:"seq,omitempty"`
	Sends [][2]int `json:"sends"`
}

// newRequestRecord groups sends by job, in the order the jobs first appear.
func newRequestRecord(sends []Send, now time.Time) *requestRecord {
	rec := &requestRecord{At: now}
	byJob := map[string]int{}
	for _, s := range sends {
		i, ok := byJob[s.JobID]
		if !ok {
			i = len(rec.Jobs)
			byJob[s.JobID] = i
			rec.Jobs = append(rec.Jobs, jobSends{Key: jobKey(s.JobID), Seq: s.JobSeq})
		}
		rec.Jobs[i].Sends = append(rec.Jobs[i].Sends, [2]int{s.Index, s.Attempt})
	}
	return rec
}

// appendJSON writes the record as encoding/json would, without reflection
// (one record is written before every provider request). Job keys are hex
// digits: nothing to escape.
func (r *requestRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"at":"`...)
	b = r.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","jobs":[`...)
	for i, j := range r.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"job":"`...)
		b = append(b, j.Key...)
		b = append(b, '"', ',')
		if j.Seq != 0 {
			b = append(b, `"seq":`...)
			b = strconv.AppendUint(b, j.Seq, 10)
			b = append(b, ',')
		}
		b = append(b, `"sends":[`...)
		for k, s := range j.Sends {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s[0]), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(s[1]), 10)
			b = append(b, ']')
		}
		b = append(b, ']', '}')
	}
	return append(b, ']', '}')
}

// Scan reads the request send records of the redelivered messages of one
// group. Register every message with Want before reconciling any of them:
// the first Reconcile of an account reads that account's records once, from
// the earliest time wanted, for all of them. A Scan is safe for concurrent
// use.
type Scan struct {
	r        *Records
	mu       sync.Mutex
	accounts map[string]*accountScan
}

// accountScan is what a Scan reads of one account.
type accountScan struct {
	since time.Time
	keys  map[string]bool // job keys wanted
	once  sync.Once
	sent  map[string]map[int]sendRecordEntry // by job key, then recipient index
	err   error
}

// NewScan returns an empty Scan.
func (r *Records) NewScan() *Scan { return &Scan{r: r, accounts: map[string]*accountScan{}} }

// Want registers job jobID of account, whose redelivered message was
// stored at stored (zero if unknown: the records are then read from the
// start of the bucket).
func (s *Scan) Want(account, jobID string, stored time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[account]
	since := time.Time{}
	if !stored.IsZero() {
		since = stored.Add(-Skew)
	}
	if a == nil {
		a = &accountScan{since: since, keys: map[string]bool{}}
		s.accounts[account] = a
	} else if since.Before(a.since) {
		a.since = since
	}
	a.keys[jobKey(jobID)] = true
}

// Skew allows for the difference between the NATS servers' clocks when
// comparing the times two streams (whose leaders may be different servers)
// stored messages at.
const Skew = 10 * time.Second

// sent returns the recipients of jobID (registered with Want) found in
// account's request records, reading those on first use.
func (s *Scan) sent(account, jobID string) (map[int]sendRecordEntry, error) {
	s.mu.Lock()
	a := s.accounts[account]
	s.mu.Unlock()
	if a == nil || !a.keys[jobKey(jobID)] {
		return nil, fmt.Errorf("reconcile: job %q of account %q was not registered with the scan", jobID, account)
	}
	a.once.Do(func() { a.sent, a.err = s.r.readRequests(account, a.since, a.keys) })
	return a.sent[jobKey(jobID)], a.err
}

// readRequests reads account's request records stored since since and
// returns the sends they hold of the jobs keys names.
func (r *Records) readRequests(account string, since time.Time, keys map[string]bool) (map[string]map[int]sendRecordEntry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found := map[string]map[int]sendRecordEntry{}
	filter := "$KV." + streams.SendsBucket + "." + requestKey(account, "*")
	err := r.readStream(ctx, sendsStream, filter, since, func(data []byte) {
		if !mentionsAny(data, keys) {
			return // the usual case: parse only records that name a wanted job
		}
		var rec requestRecord
		if json.Unmarshal(data, &rec) != nil {
			return
		}
		for _, j := range rec.Jobs {
			if !keys[j.Key] {
				continue
			}
			sent := found[j.Key]
			if sent == nil {
				sent = map[int]sendRecordEntry{}
				found[j.Key] = sent
			}
			addSends(sent, j.Sends, rec.At)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read request send records: %w", err)
	}
	return found, nil
}

// mentionsAny tells whether the record data names one of keys as a job.
func mentionsAny(data []byte, keys map[string]bool) bool {
	tag := []byte(`"job":"`)
	for {
		i := bytes.Index(data, tag)
		if i < 0 {
			return false
		}
		data = data[i+len(tag):]
		if end := bytes.IndexByte(data, '"'); end >= 0 && keys[string(data[:end])] {
			return true
		}
	}
}

// addSends notes sends made at at, keeping each recipient's latest attempt.
func addSends(sent map[int]sendRecordEntry, sends [][2]int, at time.Time) {
	for _, s := range sends {
		if cur, ok := sent[s[0]]; !ok || s[1] > cur.attempt {
			sent[s[0]] = sendRecordEntry{attempt: s[1], at: at}
		}
	}
}
