package enqueue

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// waiter collects the result events of the jobs a run published.
//
// How it subscribes: before the first publish it reads the last sequence of
// the TALKRELAY_RESULTS stream. Every result of a job of this run is stored
// after that point, because the job did not exist before. After the last
// PubAck it reads the stream from that sequence on with an ordered consumer
// filtered to the accounts of this run. Compared with a core subscription
// opened before publishing, nothing can be lost: not while the consumer is
// created, not across a reconnect (the ordered consumer resumes from the
// last sequence it saw), not to a slow-consumer drop while 100k events
// arrive (JetStream flow control). And it knows the full set of jobs and
// their duplicate flags before the first event is read, so an event is
// never mistaken for one of a job whose ack has not come back yet.
//
// A job acked as a duplicate was enqueued by an earlier run; its results
// may predate the pinned sequence. Result subjects end with the job's
// token, so when the run has at most maxJobFilters jobs the waiter instead
// reads the whole stream filtered to exactly its jobs, which finds the
// earlier run's results too. Beyond that it says so and does not wait for
// the duplicates.
//
// track and duplicate are called by the publisher's collector goroutine;
// wait runs after publisher.Close, which orders them.
type waiter struct {
	js       jetstream.JetStream
	startSeq uint64

	jobs      map[string]*tracked
	order     []string // job ids, in ack order
	accounts  map[string]bool
	accountOf map[string]string // job id -> account
	dups      []pubJob
	remaining int // recipients without a result
	total     int
	statuses  map[result.Status]int // recipients by the status of their result
}

// tracked is the state of one job's recipients.
type tracked struct {
	n    int
	seen []uint64 // bit i: recipient i has its result
	left int
}

func newWaiter(ctx context.Context, js jetstream.JetStream) (*waiter, error) {
	s, err := js.Stream(ctx, streams.ResultsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("--wait: stream %s: %w", streams.ResultsStream, streams.ErrNotSetUp)
	}
	if err != nil {
		return nil, fmt.Errorf("--wait: look up stream %s: %w", streams.ResultsStream, err)
	}
	return &waiter{
		js:        js,
		startSeq:  s.CachedInfo().State.LastSeq + 1,
		jobs:      map[string]*tracked{},
		accounts:  map[string]bool{},
		accountOf: map[string]string{},
		statuses:  map[result.Status]int{},
	}, nil
}

func (w *waiter) track(j pubJob) {
	if _, ok := w.jobs[j.ID]; ok || j.Recipients == 0 {
		return
	}
	w.jobs[j.ID] = &tracked{n: j.Recipients, seen: make([]uint64, (j.Recipients+63)/64), left: j.Recipients}
	w.order = append(w.order, j.ID)
	w.accounts[streams.Token(j.Account)] = true
	w.accountOf[j.ID] = j.Account
	w.remaining += j.Recipients
	w.total += j.Recipients
}

func (w *waiter) duplicate(j pubJob) {
	if _, ok := w.jobs[j.ID]; ok {
		return // the same id twice in this run: waited for once
	}
	w.dups = append(w.dups, j)
}

// mark records the result of recipient i (-1: the whole job) and reports
// whether it is the first result for it.
func (t *tracked) mark(i int) (first bool, done int) {
	if i == -1 {
		for k := range t.n {
			if f, _ := t.mark(k); f {
				done++
			}
		}
		return done > 0, done
	}
	if i < 0 || i >= t.n || t.seen[i/64]&(1<<(i%64)) != 0 {
		return false, 0
	}
	t.seen[i/64] |= 1 << (i % 64)
	t.left--
	return true, 1
}

// final reports whether status ends a recipient. Every status the worker
// publishes today is final (one result per recipient); a status this
// version does not know is skipped and the wait goes on.
func final(s result.Status) bool {
	switch s {
	case result.Accepted, result.Failed, result.Rejected, result.Unknown:
		return true
	}
	return false
}

// maxListed caps the job ids listed in duplicate and missing reports.
const maxListed = 20

// maxJobFilters is the most jobs whose results are read with one subject
// filter each (which also finds the results of duplicates).
const maxJobFilters = 256

// wait prints the results of the tracked jobs until each recipient has one
// or timeout passes. complete is false on timeout.
func (w *waiter) wait(ctx context.Context, timeout time.Duration, stdout io.Writer, outTTY bool, con *console) (complete bool, err error) {
	perJob := len(w.jobs)+len(w.dups) <= maxJobFilters
	if len(w.dups) > 0 {
		ids := make([]string, 0, min(len(w.dups), maxListed))
		for _, j := range w.dups[:min(len(w.dups), maxListed)] {
			ids = append(ids, j.ID)
		}
		list := strings.Join(ids, ", ")
		if len(w.dups) > maxListed {
			list += fmt.Sprintf(" and %d more", len(w.dups)-maxListed)
		}
		verb := "was"
		if len(w.dups) > 1 {
			verb = "were"
		}
		if perJob {
			con.Printf("enqueue: %s %s already enqueued before this run (duplicates: %s); showing their results\n", plural(len(w.dups), "job"), verb, list)
			for _, j := range w.dups {
				w.track(j)
			}
		} else {
			con.Printf("enqueue: %s %s already enqueued before this run (duplicates: %s); not waiting for their results\n", plural(len(w.dups), "job"), verb, list)
		}
	}
	if w.remaining == 0 {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	accounts := slices.Sorted(func(yield func(string) bool) {
		for a := range w.accounts {
			if !yield(a) {
				return
			}
		}
	})
	filters := []string{streams.ResultsPrefix + ".>"}
	if len(accounts) <= 64 {
		filters = filters[:0]
		for _, a := range accounts {
			// ".>" rather than ".<status>": result subjects may carry
			// more tokens after the status (the job id).
			filters = append(filters, streams.ResultsPrefix+"."+a+".>")
		}
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: filters,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    w.startSeq,
	}
	if perJob {
		cfg.FilterSubjects = make([]string, 0, len(w.order))
		for _, id := range w.order {
			cfg.FilterSubjects = append(cfg.FilterSubjects, streams.JobResultsFilter(w.accountOf[id], id))
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverAllPolicy, 0
	}
	cons, err := w.js.OrderedConsumer(ctx, streams.ResultsStream, cfg)
	if err != nil {
		return false, fmt.Errorf("--wait: create ordered consumer on %s: %w", streams.ResultsStream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return false, fmt.Errorf("--wait: read %s: %w", streams.ResultsStream, err)
	}
	defer it.Stop()

	con.startBar(int64(w.total), false, "results")
	defer con.endBar()
	out := newResultPrinter(stdout, outTTY, con.clearBar)
	for w.remaining > 0 {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			out.flush()
			return false, fmt.Errorf("--wait: read %s: %w", streams.ResultsStream, err)
		}
		var ev result.Event
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			con.Printf("enqueue: skip a result event on %s that is not JSON: %v\n", msg.Subject(), err)
			continue
		}
		t := w.jobs[ev.JobID]
		if t == nil || !final(ev.Status) {
			// Another run's job, or a progress note such as an outcome
			// not known yet: wait for the final event.
			continue
		}
		// A recipient may get a second event when a worker redelivers a
		// batch; the first one is printed, so that the output holds one
		// line per recipient.
		first, n := t.mark(ev.RecipientIndex)
		if !first {
			continue
		}
		w.remaining -= n
		w.statuses[ev.Status] += n
		con.add(n)
		out.print(msg.Data(), &ev)
		if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
			out.idle()
		}
	}
	out.flush()
	con.endBar()
	con.Printf("enqueue: results: %s\n", w.summary())
	if w.remaining == 0 {
		return true, nil
	}
	if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
		con.Printf("enqueue: stopped waiting: %v\n", err)
	} else {
		con.Printf("enqueue: timed out after %s waiting for results\n", timeout)
	}
	w.reportMissing(con)
	return false, nil
}

// summary counts the recipients by status: "2 accepted, 1 failed, 1 without a result".
func (w *waiter) summary() string {
	var parts []string
	for _, st := range []result.Status{result.Accepted, result.Failed, result.Rejected, result.Unknown} {
		if n := w.statuses[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if w.remaining > 0 {
		parts = append(parts, fmt.Sprintf("%d without a result", w.remaining))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// allAccepted reports whether every recipient waited for is accepted.
func (w *waiter) allAccepted() bool { return w.statuses[result.Accepted] == w.total }

// reportMissing lists the jobs and recipients without a result.
func (w *waiter) reportMissing(con *console) {
	con.Printf("enqueue: %d of %d recipients have no result:\n", w.remaining, w.total)
	listed := 0
	for _, id := range w.order {
		t := w.jobs[id]
		if t.left == 0 {
			continue
		}
		if listed == maxListed {
			con.Printf("  ... and more jobs\n")
			return
		}
		listed++
		con.Printf("  job %s: %d of %d missing (recipient index %s)\n", id, t.left, t.n, t.missingRanges(8))
	}
}

// missingRanges lists the indices without a result as ranges, at most max.
func (t *tracked) missingRanges(max int) string {
	var parts []string
	for i := 0; i < t.n; i++ {
		if t.seen[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		j := i
		for j+1 < t.n && t.seen[(j+1)/64]&(1<<((j+1)%64)) == 0 {
			j++
		}
		if len(parts) == max {
			parts = append(parts, "...")
			break
		}
		if i == j {
			parts = append(parts, strconv.Itoa(i))
		} else {
			parts = append(parts, strconv.Itoa(i)+"-"+strconv.Itoa(j))
		}
		i = j
	}
	return strings.Join(parts, ", ")
}

// resultPrinter writes result events as JSON lines, or as a table on a
// terminal.
type resultPrinter struct {
	bw   *bufio.Writer
	tw   *tabwriter.Writer // nil: JSON lines
	rows int
	// beforeTable runs before table rows reach the terminal, to take the
	// progress bar out of their way.
	beforeTable func()
}

// tableBlock is how many rows the table aligns at a time: enough to line
// up, few enough to show progress.
const tableBlock = 200

func newResultPrinter(w io.Writer, table bool, beforeTable func()) *resultPrinter {
	p := &resultPrinter{bw: bufio.NewWriter(w), beforeTable: beforeTable}
	if table {
		p.tw = tabwriter.NewWriter(p.bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(p.tw, "JOB\tINDEX\tREF\tPHONE\tSTATUS\tREASON\tCODE\tMESSAGE")
	}
	return p
}

func (p *resultPrinter) print(raw []byte, ev *result.Event) {
	if p.tw == nil {
		p.bw.Write(raw)
		p.bw.WriteByte('\n')
		return
	}
	fmt.Fprintf(p.tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
		cell(ev.JobID), ev.RecipientIndex, cell(ev.Ref), job.MaskPhone(ev.Phone),
		ev.Status, ev.Reason, cell(ev.Code), cell(ev.Message))
	if p.rows++; p.rows%tableBlock == 0 {
		p.flush()
	}
}

// idle is called when no more events are ready: JSON lines go out at once
// for a reader down the pipe; the table waits for a full block to align.
func (p *resultPrinter) idle() {
	if p.tw == nil {
		p.bw.Flush()
	}
}

func (p *resultPrinter) flush() {
	if p.tw != nil {
		p.beforeTable()
		p.tw.Flush()
	}
	p.bw.Flush()
}

// cell keeps a value on one table line.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
