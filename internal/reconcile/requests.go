package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

// requestRecordJSON writes the send record of a request of sends, made at
// now, as encoding/json would write a requestRecord that groups the sends
// by job, in the order the jobs first appear; without reflection or a
// map and slices per request (one record is written before every provider
// request).
func requestRecordJSON(sends []Send, now time.Time) []byte {
	g := groupingPool.Get().(*sendGrouping)
	defer groupingPool.Put(g)
	g.group(sends)
	b := make([]byte, 0, len(`{"at":"","jobs":[]}`)+len(time.RFC3339Nano)+len(g.first)*64+len(sends)*16)
	b = append(b, `{"at":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","jobs":[`...)
	for k, i := range g.first {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"job":"`...)
		b = appendJobKey(b, sends[i].JobID) // hex digits: nothing to escape
		b = append(b, '"', ',')
		if seq := sends[i].JobSeq; seq != 0 {
			b = append(b, `"seq":`...)
			b = strconv.AppendUint(b, seq, 10)
			b = append(b, ',')
		}
		b = append(b, `"sends":[`...)
		for ; i >= 0; i = g.next[i] {
			if i != g.first[k] {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(sends[i].Index), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(sends[i].Attempt), 10)
			b = append(b, ']')
		}
		b = append(b, ']', '}')
	}
	return append(b, ']', '}')
}

// sendGrouping groups the sends of a request by job: first holds the
// first send of each job, in order, and next the job's next send after
// each send (-1: none). Its map and slices are kept for the next request.
type sendGrouping struct {
	byJob map[string]int // index in first and last, by job id
	first []int
	last  []int // the latest send of each job so far
	next  []int
}

var groupingPool = sync.Pool{New: func() any { return &sendGrouping{byJob: map[string]int{}} }}

func (g *sendGrouping) group(sends []Send) {
	clear(g.byJob)
	g.first, g.last = g.first[:0], g.last[:0]
	g.next = slices.Grow(g.next[:0], len(sends))[:len(sends)]
	job := -1
	for i, s := range sends {
		g.next[i] = -1
		if i == 0 || s.JobID != sends[i-1].JobID { // a run of one job's sends takes one lookup
			var ok bool
			if job, ok = g.byJob[s.JobID]; !ok {
				job = len(g.first)
				g.byJob[s.JobID] = job
				g.first, g.last = append(g.first, i), append(g.last, i)
				continue
			}
		}
		g.next[g.last[job]], g.last[job] = i, i
	}
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
