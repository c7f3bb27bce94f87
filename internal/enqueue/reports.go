package enqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/job"
)

// reportWaiter follows the delivery reports of the recipients --wait saw
// accepted (--reports), through a client.ReportWaiter made with the
// results' waiter, before the first publish. A nil *reportWaiter waits
// for nothing.
type reportWaiter struct {
	w      *client.ReportWaiter
	total  int
	states map[client.ReportState]int
}

func newReportWaiter(ctx context.Context, c *client.Client) (*reportWaiter, error) {
	w, err := c.NewReportWaiter(ctx)
	if err != nil {
		return nil, fmt.Errorf("--reports: %w", err)
	}
	return &reportWaiter{w: w, states: map[client.ReportState]int{}}, nil
}

// accepted waits for r's report if r is accepted.
func (rw *reportWaiter) accepted(r *client.Result) {
	if rw == nil || r.Status != client.Accepted {
		return
	}
	rw.w.Add(r.Account, r.JobID, r.RecipientIndex)
	rw.total = rw.w.Remaining()
}

// wait prints the reports until every accepted recipient has one or ctx
// ends; complete is false then.
func (rw *reportWaiter) wait(ctx context.Context, timeout time.Duration, stdout io.Writer, outTTY bool, con *console) (complete bool, err error) {
	if rw == nil || rw.total == 0 {
		return true, nil
	}
	con.startBar(int64(rw.total), false, "reports")
	defer con.endBar()
	out := newEventPrinter(stdout, outTTY, "JOB\tINDEX\tREF\tPHONE\tSTATE\tCODE\tMESSAGE\tFALLBACK", con.clearBar)
	for r, err := range rw.w.Reports(ctx) {
		var ee *client.EventError
		if errors.As(err, &ee) {
			con.Printf("enqueue: skip a message on %s that is not a report: %v\n", ee.Subject, ee.Err)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			out.flush()
			return false, fmt.Errorf("--reports: %w", err)
		}
		rw.states[r.State]++
		con.add(1)
		fallback := "-"
		if f := r.Fallback; f != nil {
			fallback = strings.TrimSpace(f.Type + " " + f.Code)
		}
		out.print(r.Data, cell(r.JobID), strconv.Itoa(r.RecipientIndex), cell(r.Ref), job.MaskPhone(r.Phone),
			string(r.State), cell(r.Code), cell(r.Message), fallback)
		if r.CaughtUp {
			out.idle()
		}
	}
	out.flush()
	con.endBar()
	con.Printf("enqueue: reports: %s\n", rw.summary())
	if rw.w.Remaining() == 0 {
		return true, nil
	}
	if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
		con.Printf("enqueue: stopped waiting: %v\n", err)
	} else {
		con.Printf("enqueue: timed out after %s waiting for reports\n", timeout)
	}
	listed := 0
	for id, missing := range rw.w.Unreported() {
		if listed == maxListed {
			con.Printf("  ... and more jobs\n")
			break
		}
		listed++
		con.Printf("  job %s: %d without a report (recipient index %s)\n", id, len(missing), ranges(missing, 8))
	}
	return false, nil
}

// summary counts the accepted recipients by report state.
func (rw *reportWaiter) summary() string {
	var parts []string
	for _, st := range []client.ReportState{client.Delivered, client.NotDelivered, client.FallbackSent, client.FallbackFailed, client.Expired} {
		if n := rw.states[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if n := rw.w.Remaining(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d without a report", n))
	}
	return strings.Join(parts, ", ")
}
