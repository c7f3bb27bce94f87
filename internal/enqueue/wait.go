package enqueue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/job"
)

// waiter collects the result events of the jobs a run published, through
// a client.Waiter made before the first publish (see client.Waiter for how
// it reads: nothing is lost, and the full set of jobs is known before the
// first event is read).
//
// A job acked as a duplicate was enqueued by an earlier run; its results
// may predate the Waiter's pinned position. While the run has at most
// client.MaxJobFilters jobs, the Waiter reads exactly their results, which
// finds the earlier run's too. Beyond that it says so and does not wait
// for the duplicates.
//
// track and duplicate are called by the publisher's goroutine; wait runs
// after publisher.Close, which orders them.
type waiter struct {
	w        *client.Waiter
	jobs     map[string]bool
	dups     []pubJob
	total    int
	statuses map[client.Status]int // recipients by the status of their result
	reports  *reportWaiter         // nil: no --reports
}

func newWaiter(ctx context.Context, c *client.Client, reports bool) (*waiter, error) {
	w, err := c.NewWaiter(ctx)
	if err != nil {
		return nil, fmt.Errorf("--wait: %w", err)
	}
	wt := &waiter{w: w, jobs: map[string]bool{}, statuses: map[client.Status]int{}}
	if reports {
		if wt.reports, err = newReportWaiter(ctx, c); err != nil {
			return nil, err
		}
	}
	return wt, nil
}

func (w *waiter) track(j pubJob) {
	if w.jobs[j.ID] || j.Recipients == 0 {
		return
	}
	w.jobs[j.ID] = true
	w.w.Add(j.Account, j.ID, j.Recipients)
	w.total += j.Recipients
}

func (w *waiter) duplicate(j pubJob) {
	if w.jobs[j.ID] {
		return // the same id twice in this run: waited for once
	}
	w.dups = append(w.dups, j)
}

// maxListed caps the job ids listed in duplicate and missing reports.
const maxListed = 20

// wait prints the results of the tracked jobs until each recipient has one
// or timeout passes. complete is false on timeout.
func (w *waiter) wait(ctx context.Context, timeout time.Duration, stdout io.Writer, outTTY bool, con *console) (complete bool, err error) {
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
		if len(w.jobs)+len(w.dups) <= client.MaxJobFilters {
			con.Printf("enqueue: %s %s already enqueued before this run (duplicates: %s); showing their results\n", plural(len(w.dups), "job"), verb, list)
			for _, j := range w.dups {
				w.track(j)
			}
		} else {
			con.Printf("enqueue: %s %s already enqueued before this run (duplicates: %s); not waiting for their results\n", plural(len(w.dups), "job"), verb, list)
		}
	}
	if w.w.Remaining() == 0 {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	err = printEvents(ctx, w.w.Results(ctx), int64(w.total), "results", "--wait", stdout, outTTY, con,
		"JOB\tINDEX\tREF\tPHONE\tSTATUS\tREASON\tCODE\tMESSAGE", func(r client.Received) (printed, []string) {
			// A recipient may get a second event when a worker redelivers a
			// batch; the Waiter yields the first one only, so that the output
			// holds one line per recipient.
			w.statuses[r.Status] += r.Settled
			w.reports.accepted(&r.Result)
			return printed{data: r.Data, settled: r.Settled, caughtUp: r.CaughtUp}, []string{cell(r.JobID), strconv.Itoa(r.RecipientIndex),
				cell(r.Ref), job.MaskPhone(r.Phone), string(r.Status), string(r.Reason), cell(r.Code), cell(r.Message)}
		})
	if err != nil {
		return false, err
	}
	con.Printf("enqueue: results: %s\n", w.summary())
	if w.w.Remaining() == 0 {
		return w.reports.wait(ctx, timeout, stdout, outTTY, con)
	}
	stoppedWaiting(ctx, con, timeout, "results")
	w.reportMissing(con)
	return false, nil
}

// printed is what printEvents needs of an event besides its table row.
type printed struct {
	data     []byte // the event as stored, printed as a JSON line
	settled  int    // recipients it settles, for the progress bar
	caughtUp bool   // no more events ready: flush JSON lines
}

// printEvents prints the events of seq as they come, a table on a
// terminal (header, then the row each gives) and JSON lines otherwise,
// with a progress bar of total, until seq ends or ctx does. A message
// that is not an event is said and skipped; any other error but ctx's is
// returned, prefixed with flag.
func printEvents[E any](ctx context.Context, seq iter.Seq2[E, error], total int64, what, flag string, stdout io.Writer, outTTY bool,
	con *console, header string, each func(E) (printed, []string)) error {
	con.startBar(total, false, what)
	defer con.endBar()
	out := newEventPrinter(stdout, outTTY, header, con.clearBar)
	for ev, err := range seq {
		var ee *client.EventError
		if errors.As(err, &ee) {
			con.Printf("enqueue: skip a message on %s that is not JSON: %v\n", ee.Subject, ee.Err)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			out.flush()
			return fmt.Errorf("%s: %w", flag, err)
		}
		p, row := each(ev)
		con.add(p.settled)
		out.print(p.data, row...)
		if p.caughtUp {
			out.idle()
		}
	}
	out.flush()
	con.endBar()
	return nil
}

// stoppedWaiting says why waiting for what ended before everything came.
func stoppedWaiting(ctx context.Context, con *console, timeout time.Duration, what string) {
	if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
		con.Printf("enqueue: stopped waiting: %v\n", err)
	} else {
		con.Printf("enqueue: timed out after %s waiting for %s\n", timeout, what)
	}
}

// summary counts the recipients by status: "2 accepted, 1 failed, 1 without a result".
func (w *waiter) summary() string {
	var parts []string
	for _, st := range []client.Status{client.Accepted, client.Failed, client.Rejected, client.Unknown} {
		if n := w.statuses[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if n := w.w.Remaining(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d without a result", n))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// allAccepted reports whether every recipient waited for is accepted.
func (w *waiter) allAccepted() bool { return w.statuses[client.Accepted] == w.total }

// reportMissing lists the jobs and recipients without a result.
func (w *waiter) reportMissing(con *console) {
	con.Printf("enqueue: %d of %d recipients have no result:\n", w.w.Remaining(), w.total)
	listed := 0
	for u := range w.w.Unfinished() {
		if listed == maxListed {
			con.Printf("  ... and more jobs\n")
			return
		}
		listed++
		con.Printf("  job %s: %d of %d missing (recipient index %s)\n", u.JobID, len(u.Missing), u.Recipients, ranges(u.Missing, 8))
	}
}

// ranges lists ascending indices as ranges, at most max: "0-2, 5, ...".
func ranges(indices []int, max int) string {
	var parts []string
	for i := 0; i < len(indices); i++ {
		j := i
		for j+1 < len(indices) && indices[j+1] == indices[j]+1 {
			j++
		}
		if len(parts) == max {
			parts = append(parts, "...")
			break
		}
		if i == j {
			parts = append(parts, strconv.Itoa(indices[i]))
		} else {
			parts = append(parts, strconv.Itoa(indices[i])+"-"+strconv.Itoa(indices[j]))
		}
		i = j
	}
	return strings.Join(parts, ", ")
}

// eventPrinter writes result events or reports as JSON lines, or as a
// table on a terminal.
type eventPrinter struct {
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

// newEventPrinter prints to w, as a table with the tab-separated header
// when table is set.
func newEventPrinter(w io.Writer, table bool, header string, beforeTable func()) *eventPrinter {
	p := &eventPrinter{bw: bufio.NewWriter(w), beforeTable: beforeTable}
	if table {
		p.tw = tabwriter.NewWriter(p.bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(p.tw, header)
	}
	return p
}

// print writes the event raw as a JSON line, or its table row.
func (p *eventPrinter) print(raw []byte, row ...string) {
	if p.tw == nil {
		p.bw.Write(raw)
		p.bw.WriteByte('\n')
		return
	}
	fmt.Fprintln(p.tw, strings.Join(row, "\t"))
	if p.rows++; p.rows%tableBlock == 0 {
		p.flush()
	}
}

// idle is called when no more events are ready: JSON lines go out at once
// for a reader down the pipe; the table waits for a full block to align.
func (p *eventPrinter) idle() {
	if p.tw == nil {
		p.bw.Flush()
	}
}

func (p *eventPrinter) flush() {
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
