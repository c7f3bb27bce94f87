package nhn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
)

var _ providers.Resolver = (*Client)(nil)

// DefaultNotFoundAfter is the default of not_found_after
// (Config.NotFoundAfter): how long after a send NHN's list must show a
// message NHN took. When a lookup this long after the send finds nothing
// under the recipient's grouping key, that proves NHN never took the
// message (Retryable: sending it again cannot duplicate it). Sooner,
// absence proves nothing (Unknown).
//
// What is waited out is a request still on its way inside NHN (or its
// gateway) when our client gave up, and the list's own lag behind the
// send API. NHN documents neither; 2 minutes is our estimate. It must stay
// below the time the worker's lookups span (by default the first at 30s
// and six over about 4 minutes), or untaken messages end unknown instead
// of being sent again. An account may set another value (not_found_after).
const DefaultNotFoundAfter = providers.DefaultNotFoundAfter

// The requestDate window each lookup lists, around the send (or the
// reservation, which is what NHN stores as requestDate for a reserved
// message).
const (
	// lookupBefore reaches back past a -1005: NHN refuses a key reused
	// within 10 minutes of the request that took the messages, so that
	// request may be up to 10 minutes older than the one that got -1005;
	// 5 more for clock skew.
	lookupBefore = 15 * time.Minute
	// lookupAfter reaches forward past the default not_found_after and
	// clock skew; windowAfter stretches it for a longer not_found_after.
	lookupAfter = 10 * time.Minute
	// lookupNoSentAt is how far back a query without SentAt (the worker
	// died before recording the send) lists. Not finding it there proves
	// nothing: such queries never turn Retryable on absence.
	lookupNoSentAt = 24 * time.Hour
)

// lookupConcurrency bounds the list requests one Resolve makes at once.
const lookupConcurrency = 4

// Resolve implements providers.Resolver through NHN's message list APIs
// (AlimTalk v2.3 and FriendTalk v1.5 GET …/messages).
//
// Each query lists the messages of its recipientGroupingKey (job id and
// recipient index: the same in every attempt, so the listing shows every
// attempt of that recipient) requested within a window of whole minutes
// in KST around q.SentAt: lookupBefore earlier to lookupAfter later, or
// around the job's reservation when it has one. Queries sharing key and
// window share one listing; listings are paged (pageSize 1000) and made
// lookupConcurrency at a time.
//
// The outcome, per query:
//   - listed and sent, pending delivery or carried by an SMS/LMS fallback,
//     by any attempt: Accepted, with that record's requestId (RequestID)
//     and recipientSeq (MessageID);
//   - listed, failed only: the failure's class (Permanent or Retryable;
//     a Retryable one only once not_found_after has passed, since the
//     uncertain attempt may not be listed yet);
//   - not listed, not_found_after or more after q.SentAt: Retryable (reason
//     provider_unavailable), the lookup proved NHN never took it;
//   - not listed sooner, or q.SentAt unknown: Unknown.
//
// A failed list request fails only the queries it answers: they are
// Unknown, and the call returns every outcome with a *providers.LookupError
// (wrapping a *providers.Error for an HTTP or NHN failure) that marks the
// queries whose listing was never made because ctx ended first.
func (c *Client) Resolve(ctx context.Context, queries []providers.Query) ([]providers.Outcome, error) {
	now := c.now()
	out := make([]providers.Outcome, len(queries))
	type listKey struct{ url, key, start, end string }
	var lqs []listQuery
	seen := map[listKey]int{}
	which := make([]int, len(queries))
	for i := range queries {
		lq, err := c.listQueryOf(&queries[i], now)
		if err != nil {
			which[i] = -1
			out[i] = providers.Outcome{Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
				Message: "cannot look up: " + err.Error()}
			continue
		}
		k := listKey{lq.api.listURL(), lq.key, lq.start, lq.end}
		n, ok := seen[k]
		if !ok {
			n = len(lqs)
			seen[k] = n
			lqs = append(lqs, lq)
		}
		which[i] = n
	}
	listed, failed := c.listAll(ctx, lqs)
	var lerr *providers.LookupError
	for i := range queries {
		n := which[i]
		switch {
		case n < 0:
		case failed[n] == nil:
			out[i] = decide(&queries[i], lqs[n], listed[n], now, c.notFoundAfter)
		default:
			if lerr == nil {
				lerr = &providers.LookupError{NotMade: make([]bool, len(queries)), Err: failed[n]}
			}
			lerr.NotMade[i] = errors.Is(failed[n], errNotListed)
			out[i] = providers.Outcome{Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
				Message: "lookup failed: " + failed[n].Error()}
		}
	}
	if lerr != nil {
		return out, lerr
	}
	return out, nil
}

// errNotListed marks a listing never requested: ctx ended before its turn.
var errNotListed = errors.New("nhn: list messages: not requested")

// listQueryOf is the listing that answers q.
func (c *Client) listQueryOf(q *providers.Query, now time.Time) (listQuery, error) {
	j := q.Message.Job
	if j == nil {
		return listQuery{}, fmt.Errorf("query without a job")
	}
	api, ok := c.apis[j.Kind]
	if !ok {
		return listQuery{}, fmt.Errorf("kind %q is not supported by NHN", j.Kind)
	}
	base, before := q.SentAt, lookupBefore
	switch {
	case j.ReserveAt != nil:
		base = *j.ReserveAt
	case base.IsZero():
		base, before = now, lookupNoSentAt
	}
	day := func(t time.Time) string { return t.In(msgcheck.KST).Format(requestDateLayout) }
	return listQuery{api: api, key: RecipientGroupingKey(j.ID, q.Message.Index),
		start: day(base.Add(-before)), end: day(base.Add(c.windowAfter()))}, nil
}

// windowAfter is how far past the send the window reaches: lookupAfter,
// stretched by as much as not_found_after exceeds its default, so that a
// message NHN takes as late as not_found_after after the send still falls
// inside the window that is to prove it absent.
func (c *Client) windowAfter() time.Duration {
	return lookupAfter + max(0, c.notFoundAfter-DefaultNotFoundAfter)
}

// listAll makes the listings, lookupConcurrency at a time, each on its
// own: a failed one leaves the others be. failed[i] is listing i's error;
// one never requested because ctx ended first wraps errNotListed.
func (c *Client) listAll(ctx context.Context, lqs []listQuery) (listed [][]listMessage, failed []error) {
	listed, failed = make([][]listMessage, len(lqs)), make([]error, len(lqs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, lookupConcurrency)
	for i, lq := range lqs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			for j := i; j < len(lqs); j++ {
				failed[j] = fmt.Errorf("%w: %w", errNotListed, err)
			}
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			msgs, err := c.list(ctx, lq)
			if err != nil {
				failed[i] = lookupFailed(lq, err)
				return
			}
			listed[i] = msgs
		})
	}
	wg.Wait()
	return listed, failed
}

// decide turns the listing of q's grouping key into q's outcome.
// notFoundAfter is the account's not_found_after.
func decide(q *providers.Query, lq listQuery, msgs []listMessage, now time.Time, notFoundAfter time.Duration) providers.Outcome {
	o, found, ambiguous := listedIn(q, lq.key, msgs)
	settled := !q.SentAt.IsZero() && now.Sub(q.SentAt) >= notFoundAfter
	unknown := func(format string, args ...any) providers.Outcome {
		return providers.Outcome{Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
			Message: "lookup: " + fmt.Sprintf(format, args...)}
	}
	switch {
	case found && o.Class == providers.Retryable && !settled:
		return unknown("an attempt is listed as failed (code %s), but the last one may not be listed yet", o.Code)
	case found:
		return o
	case ambiguous:
		return unknown("NHN listed messages without recipientGroupingKey for %q: they cannot be told apart", lq.key)
	case settled:
		return providers.Outcome{Class: providers.Retryable, Reason: notTakenReason,
			Message: fmt.Sprintf("lookup proved NHN never took it: nothing under recipientGroupingKey %q requested %s to %s KST, %s after the send",
				lq.key, lq.start, lq.end, now.Sub(q.SentAt).Round(time.Second))}
	case q.SentAt.IsZero():
		return unknown("not listed %s to %s KST; the send time is unknown, so absence proves nothing", lq.start, lq.end)
	default:
		return unknown("not listed yet %s after the send; NHN may still list it (wait %s)", now.Sub(q.SentAt).Round(time.Second), notFoundAfter)
	}
}
