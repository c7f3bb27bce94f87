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
// (providers.WindowReporter, NHN). Its cursor is the window being read and
// the page it is read up to. A window is read only once it is Settle in
// the past, at most the provider's widest, in pages; a poll reads at most
// maxWindowPages of them, so a busy window (however many updates its
// minutes hold) is read across several polls, each storing its reports
// before the cursor moves past them. A report that is not terminal yet is
// updated later and so is listed in a later window. A new cursor starts
// at the current time: reports of messages sent before polling began are
// not fetched.
//
// Nothing is skipped when the listing changes while a window is read
// across polls. A settled window gains no entries (the provider stamps an
// update with the time it is made, which is past every settled window),
// but loses one whenever the provider updates that entry again (a receipt
// that came, a fallback that completed): it moves to a later window, which
// is read later. The entries that stay keep their order, so losing d of
// them moves each later entry at most d places towards the start: an
// entry not read yet can slip at most d places behind the point reached.
// Each page gives the provider's count; when it is d lower than the page
// before said, the reading backs up d entries, re-reading them and the
// rest of their page (harmless: Correlate leaves out the recipients
// already reported, and Publish stores a report once). A count that grew breaks the
// assumption, and the window is read again from its first page.
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

// windowCursor is Window's cursor: the start of the next window, or, while
// a window is read across polls, the window [From, To), the next page to
// read in pages of Size, and the provider's count of the window as of the
// last page read. A cursor that starts no window ({"from":…}, the only
// form before windows were read across polls), or no page of it, starts
// the next one.
type windowCursor struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to,omitzero"`
	Page  int       `json:"page,omitzero"`
	Size  int       `json:"size,omitzero"`
	Total int       `json:"total,omitzero"`
}

// maxWindowPages bounds the pages (provider requests) of one poll, and
// maxPollEntries the entries: what a poll holds until its reports are
// stored (the entries, their report events, the results they are
// correlated with) is a few hundred bytes an entry, so 50 pages of 1,000
// held a busy campaign's worker at about twice its sending memory.
const maxWindowPages, maxPollEntries = 50, 10_000

// Poll implements Source: it reads at most maxWindowPages pages of the
// window begun, or of the next settled window, at most the provider's
// widest, in pages of limit (at most the provider's largest).
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
	if c.To.IsZero() || c.Page < 1 || c.Size < 1 {
		to := c.From.Add(maxWindow)
		if to.After(settled) {
			to = settled
		}
		if !to.After(c.From) {
			next, _ := json.Marshal(c)
			return &Page{Next: next}, nil
		}
		c = windowCursor{From: c.From, To: to, Page: 1, Size: min(limit, maxPage)}
	}
	reps, done, err := w.read(ctx, &c)
	if err != nil {
		return nil, err
	}
	evs, err := Correlate(ctx, w.Store, w.Account, w.Provider, w.Kind, reps, w.Now())
	if err != nil {
		return nil, err
	}
	if done {
		c = windowCursor{From: c.To}
	}
	next, _ := json.Marshal(c)
	return &Page{Reports: evs, Next: next, More: !done || c.From.Before(settled)}, nil
}

// read reads c's window from page c.Page on, at most maxWindowPages
// pages, and moves c on past them; done says its last page was read. It
// stops early once half the time ctx had left is spent (a slow provider,
// a slow rate limit), keeping the rest to store what it read: a poll
// that outlasted its context would fail every time and move nothing on.
func (w *Window) read(ctx context.Context, c *windowCursor) (reps []providers.Report, done bool, err error) {
	start := time.Now() // a context's deadline is on the wall clock
	for n := range min(maxWindowPages, max(1, maxPollEntries/c.Size)) {
		if n > 0 && halfSpent(ctx, start) {
			break
		}
		if err := w.Limiter.Wait(ctx, 0); err != nil {
			return nil, false, err
		}
		p, err := w.Reporter.ReportPage(ctx, w.Kind, c.From, c.To, c.Page, c.Size)
		if err != nil {
			return nil, false, err
		}
		reps = append(reps, p.Reports...)
		offset := (c.Page - 1) * c.Size
		switch {
		case c.Page > 1 && p.Total < c.Total:
			// Entries left the window: back up as many (Window's comment).
			c.Page, c.Total = max(0, offset-(c.Total-p.Total))/c.Size+1, p.Total
			continue
		case c.Page > 1 && p.Total > c.Total:
			c.Page, c.Total = 1, p.Total
			continue
		case p.Listed == 0 && p.Total > offset:
			return nil, false, fmt.Errorf("report: %s reports updated %s to %s: page %d is empty, of %d", w.Kind, c.From, c.To, c.Page, p.Total)
		}
		c.Total = p.Total
		if offset+p.Listed >= p.Total {
			return reps, true, nil
		}
		c.Page++
	}
	return reps, false, nil
}

// Correlate turns provider reports of account (of kind, from provider)
// into report events, with what the recipients' accepted results say (one
// read per job), leaving out the recipients that have a report already,
// those reps lists twice, and the provider's cancellations of recipients
// talkrelay cancelled.
// With Publish it is the whole path of a provider's report into
// talkrelay: the pollers use it, and so can a push receiver (NHN's result
// webhook).
func Correlate(ctx context.Context, store Store, account, provider string, kind job.Kind, reps []providers.Report, now time.Time) ([]*Event, error) {
	stored, cancels := newJobs(store, account), canceledIn(store, account)
	if err := stored.prefetch(ctx, reps); err != nil {
		return nil, err
	}
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
		}
		ev.setReport(r)
		out = append(out, ev)
		stored.reported.byJob[r.JobID][r.Index] = true
	}
	return out, nil
}

// setReport gives ev the state the provider's report r says, and its
// provider message id when ev has none.
func (ev *Event) setReport(r *providers.Report) {
	if ev.ProviderMessageID == "" {
		ev.ProviderMessageID = r.MessageID
	}
	ev.State, ev.Code, ev.CodeName, ev.Message = State(r.State), r.Code, r.CodeName, r.Message
	if !r.At.IsZero() {
		at := r.At
		ev.ReportedAt = &at
	}
	if r.State == providers.ReportFallbackSent || r.State == providers.ReportFallbackFailed {
		ev.Fallback = &Fallback{Type: r.FallbackType, Code: r.FallbackCode}
	}
}
