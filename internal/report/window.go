package report

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/ratelimit"
)

// Window is the report source of one job kind of an account whose
// provider lists reports by the time they were updated
// (providers.WindowReporter, NHN). Its cursor is the start of the next
// window to read. A window is read only once it is Settle in the past, as
// a whole (every page, in one Poll), and again whole if the provider's
// count changed while it was read; a report that is not terminal yet is
// updated later and so is listed in a later window. A new cursor starts
// at the current time: reports of messages sent before polling began are
// not fetched.
type Window struct {
	Reporter providers.WindowReporter
	Kind     job.Kind
	Account  string
	Provider string
	// Limiter is the account's: each page is one provider request.
	Limiter ratelimit.Limiter
	// Settle is how long after a window ends its updates are read
	// (default: a minute plus the provider's resolution).
	Settle time.Duration
	Store  Store
	Now    func() time.Time
}

// windowCursor is Window's cursor.
type windowCursor struct {
	From time.Time `json:"from"`
}

// maxWindowPages bounds the pages one window is read in; a busier window
// is halved.
const maxWindowPages = 50

// Poll implements Source: it reads the next settled window, at most the
// provider's widest, in pages of limit (at most the provider's largest).
func (w *Window) Poll(ctx context.Context, cursor []byte, limit int) (*Page, error) {
	res, maxWindow, maxPage := w.Reporter.ReportLimits()
	settle := w.Settle
	if settle == 0 {
		settle = time.Minute + res
	}
	settled := w.Now().Add(-settle).Truncate(res)
	var c windowCursor
	if len(cursor) > 0 {
		if err := json.Unmarshal(cursor, &c); err != nil {
			return nil, fmt.Errorf("report: window cursor %q: %w", cursor, err)
		}
	} else {
		c.From = settled
	}
	to := c.From.Add(maxWindow)
	if to.After(settled) {
		to = settled
	}
	if !to.After(c.From) {
		next, _ := json.Marshal(c)
		return &Page{Next: next}, nil
	}
	size := min(limit, maxPage)
	var reps []providers.Report
	for {
		var complete bool
		var err error
		reps, complete, err = w.read(ctx, c.From, to, size)
		if err != nil {
			return nil, err
		}
		if complete {
			break
		}
		half := c.From.Add(to.Sub(c.From) / 2).Truncate(res)
		if !half.After(c.From) {
			return nil, fmt.Errorf("report: %s reports updated %s to %s: more than %d pages of %d", w.Kind, c.From, to, maxWindowPages, size)
		}
		to = half
	}
	evs, err := Correlate(ctx, w.Store, w.Account, w.Provider, w.Kind, reps, w.Now())
	if err != nil {
		return nil, err
	}
	next, _ := json.Marshal(windowCursor{From: to})
	return &Page{Reports: evs, Next: next, More: to.Before(settled)}, nil
}

// read lists every page of [from, to); complete is false when the window
// holds more than maxWindowPages pages. A listing whose count changes
// while it is read is an error: the next poll reads it again.
func (w *Window) read(ctx context.Context, from, to time.Time, size int) (reps []providers.Report, complete bool, err error) {
	listed, total := 0, -1
	for page := 1; total < 0 || listed < total; page++ {
		if page > maxWindowPages {
			return nil, false, nil
		}
		if err := w.Limiter.Wait(ctx, 0); err != nil {
			return nil, false, err
		}
		p, err := w.Reporter.ReportPage(ctx, w.Kind, from, to, page, size)
		if err != nil {
			return nil, false, err
		}
		switch {
		case total >= 0 && p.Total != total:
			return nil, false, fmt.Errorf("report: %s reports updated %s to %s changed while read (%d, then %d)", w.Kind, from, to, total, p.Total)
		case p.Listed == 0 && p.Total > listed:
			return nil, false, fmt.Errorf("report: %s reports updated %s to %s: page %d is empty after %d of %d", w.Kind, from, to, page, listed, p.Total)
		}
		total, listed = p.Total, listed+p.Listed
		reps = append(reps, p.Reports...)
	}
	return reps, true, nil
}

// Correlate turns provider reports of account (of kind, from provider)
// into report events, with what the recipients' accepted results say (one
// read per job), leaving out the recipients that have a report already,
// and the provider's cancellations of recipients talkrelay cancelled.
// With Publish it is the whole path of a provider's report into
// talkrelay: the pollers use it, and so can a push receiver (NHN's result
// webhook).
func Correlate(ctx context.Context, store Store, account, provider string, kind job.Kind, reps []providers.Report, now time.Time) ([]*Event, error) {
	stored, cancels := newJobs(store, account), canceledIn(store, account)
	out := make([]*Event, 0, len(reps))
	for i := range reps {
		r := &reps[i]
		done, err := stored.isReported(ctx, r.JobID, r.Index)
		if err == nil && !done && r.Canceled {
			done, err = cancels.has(ctx, r.JobID, r.Index)
		}
		if err != nil {
			return nil, err
		}
		if done {
			continue
		}
		res, err := stored.acceptedResult(ctx, r.JobID, r.Index)
		if err != nil {
			return nil, err
		}
		ev := &Event{Version: Version, JobID: r.JobID, RecipientIndex: r.Index, Account: account, Provider: provider,
			Kind: string(kind), ProviderMessageID: r.MessageID, Time: now}
		if res != nil {
			ev = fromResult(res, now)
			if ev.ProviderMessageID == "" {
				ev.ProviderMessageID = r.MessageID
			}
		}
		ev.State, ev.Code, ev.CodeName, ev.Message = State(r.State), r.Code, r.CodeName, r.Message
		if !r.At.IsZero() {
			at := r.At
			ev.ReportedAt = &at
		}
		if r.State == providers.ReportFallbackSent || r.State == providers.ReportFallbackFailed {
			ev.Fallback = &Fallback{Type: r.FallbackType, Code: r.FallbackCode}
		}
		out = append(out, ev)
	}
	return out, nil
}
