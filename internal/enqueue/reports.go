package enqueue

import (
	"context"
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
	err = printEvents(ctx, rw.w.Reports(ctx), int64(rw.total), "reports", "--reports", stdout, outTTY, con,
		"JOB\tINDEX\tREF\tPHONE\tSTATE\tCODE\tMESSAGE\tFALLBACK", func(r client.ReceivedReport) (printed, []string) {
			rw.states[r.State]++
			fallback := "-"
			if f := r.Fallback; f != nil {
				fallback = strings.TrimSpace(f.Type + " " + f.Code)
			}
			return printed{data: r.Data, settled: 1, caughtUp: r.CaughtUp}, []string{cell(r.JobID), strconv.Itoa(r.RecipientIndex),
				cell(r.Ref), job.MaskPhone(r.Phone), string(r.State), cell(r.Code), cell(r.Message), fallback}
		})
	if err != nil {
		return false, err
	}
	con.Printf("enqueue: reports: %s\n", rw.summary())
	if rw.w.Remaining() == 0 {
		return true, nil
	}
	stoppedWaiting(ctx, con, timeout, "reports")
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
