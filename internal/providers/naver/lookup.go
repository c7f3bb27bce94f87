package naver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// DefaultNotFoundAfter is the default of not_found_after
// (Config.NotFoundAfter): how long after a send NAVER's request query is
// given to list a message it took. A message the query still does not
// list that long after Query.SentAt was never taken: Resolve answers
// Retryable and the worker sends it again. Before, "not listed" is only
// "not listed yet": Unknown.
//
// NAVER documents no delay between taking a request and listing it; the
// send's own answer already carries each message's requestStatusCode, so
// the record exists when the request is accepted. Two minutes is our
// margin for replication behind the query API and for clock skew (the
// gateway refuses more than 5 minutes). It is the one assumption the
// no-duplicate promise rests on for NAVER: see docs/providers/naver.md,
// "Lookups". An account may set another value (not_found_after).
const DefaultNotFoundAfter = providers.DefaultNotFoundAfter

const (
	// lookupBefore and lookupAfter frame the requestStartTime..requestEndTime
	// window around Query.SentAt: before for our clock running ahead of
	// NAVER's, after for the request's time in flight (NAVER's requestTime
	// is when it received the request) and NAVER's clock running ahead.
	// lookupAfter is for the default not_found_after; windowAfter
	// stretches it for a longer one.
	lookupBefore = 2 * time.Minute
	lookupAfter  = 5 * time.Minute
	// unknownSentAtWindow is the window, ending now, for a query without
	// SentAt. Not finding a message there proves nothing (the send time is
	// not known), so it only ever finds messages.
	unknownSentAtWindow = 24 * time.Hour
	// historyLimit is how far back the request query reaches (SENS AlimTalk API document: the
	// last 30 days only); historyMargin keeps clear of its edge.
	historyLimit  = 30 * 24 * time.Hour
	historyMargin = time.Hour
	// maxLookupWindow is the API document's limit on requestEndTime-requestStartTime.
	maxLookupWindow = 31 * 24 * time.Hour
	// maxLookupPageSize is the API document's largest pageSize.
	maxLookupPageSize = 100
	// maxPagesPerFetch bounds the pages read for one requestId or one
	// recipient's window (1000 messages at 100 a page). A request holds at
	// most 100 messages and a recipient gets few messages of one template
	// in minutes, so reaching it means something is wrong: the lookup then
	// concludes nothing but "accepted".
	maxPagesPerFetch = 10
	// queryTimeLayout is the current API reference's YYYY-MM-DD HH:mm:ss
	// (a space, URL-encoded; the older SENS AlimTalk API document's
	// yyyy-MM-dd'T'HH:mm:ss is no longer sent).
	queryTimeLayout = "2006-01-02 15:04:05"
)

// Resolve implements providers.Resolver with the request query
// (GET .../messages, API document: メッセージ送信リクエストの照会), one request a page:
//
//   - A query whose Last carries a requestId (a 202 whose entry for the
//     message was unknown, such as 3005) asks ?requestId=; queries sharing
//     a requestId share the request.
//   - Otherwise (a timeout, a 5xx, a worker that stopped before recording
//     the answer) it asks the window requestStartTime..requestEndTime =
//     SentAt-2m..min(SentAt+5m, now) (more than 5m with a not_found_after
//     over 2m: windowAfter), written in lookup_time_zone
//     (Asia/Seoul), with plusFriendId and templateCode; queries of one
//     batch share the window and one paged request. With one recipient,
//     or when the window holds more pages than the group has recipients,
//     it asks with "to" per recipient instead.
//
// A listed message is matched by messageId when NAVER gave one, otherwise
// by "to" (digits) and content (exact, or equal after CRLF and outer
// whitespace are normalised); each listed entry answers one query. Its
// requestStatusCode is classified with the send's table: A000 is Accepted;
// a failure code gives that code's class. Not listed: Retryable once
// not_found_after (Config.NotFoundAfter) has passed since SentAt (the
// lookup proved NAVER never took it), Unknown before that, without
// SentAt, or when NAVER answered the message in a request the query then
// does not list it in.
//
// A failed request query (transport, 5xx, 429, auth, an answer that is
// not the documented list) fails the whole call: the caller looks again
// later.
func (c *Client) Resolve(ctx context.Context, queries []providers.Query) ([]providers.Outcome, error) {
	now := c.Now()
	out := make([]providers.Outcome, len(queries))
	var groups []*lookupGroup
	byKey := map[groupKey]*lookupGroup{}
	for i := range queries {
		g, o, ok := c.plan(&queries[i], now)
		if !ok {
			out[i] = o
			continue
		}
		if prev := byKey[g.key]; prev != nil {
			prev.idx = append(prev.idx, i)
			continue
		}
		g.idx = []int{i}
		byKey[g.key] = g
		groups = append(groups, g)
	}
	for _, g := range groups {
		if err := c.resolveGroup(ctx, g, queries, now, out); err != nil {
			return nil, fmt.Errorf("naver: lookup: %w", err)
		}
	}
	return out, nil
}

// lookupGroup is the queries one request query (with its pages) answers.
type lookupGroup struct {
	key groupKey
	idx []int // indexes into the queries
}

type groupKey struct {
	requestID        string // requestId path when set
	sender, template string
	start, end       time.Time // window path
}

// plan decides how q is looked up, or answers it without a request (ok
// false) when no lookup can tell.
func (c *Client) plan(q *providers.Query, now time.Time) (*lookupGroup, providers.Outcome, bool) {
	unknown := func(msg string) (*lookupGroup, providers.Outcome, bool) {
		return nil, providers.Outcome{Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
			RequestID: q.Last.RequestID, MessageID: q.Last.MessageID, Message: "lookup: " + msg}, false
	}
	switch {
	case q.Message.Recipient == nil:
		return unknown("no recipient to match")
	case !q.SentAt.IsZero() && now.Sub(q.SentAt) > historyLimit-historyMargin:
		return unknown("sent before the request query's 30-day history; NAVER can no longer tell")
	case q.Last.RequestID != "":
		return &lookupGroup{key: groupKey{requestID: q.Last.RequestID}}, providers.Outcome{}, true
	case q.Key.Sender == "":
		return unknown("no plusFriendId, which the request query needs without a requestId")
	}
	start, end := now.Add(-unknownSentAtWindow), now
	if !q.SentAt.IsZero() {
		start, end = q.SentAt.Add(-lookupBefore), q.SentAt.Add(c.windowAfter())
		if end.After(now) {
			end = now
		}
	}
	// Whole seconds, as the parameters are written. The end is rounded
	// down: nothing NAVER takes while the pages are read falls into the
	// window and shifts them.
	start, end = start.Truncate(time.Second), end.Truncate(time.Second)
	if end.Before(start) {
		end = start
	}
	if end.Sub(start) > maxLookupWindow { // cannot happen with the constants above
		start = end.Add(-maxLookupWindow)
	}
	return &lookupGroup{key: groupKey{sender: q.Key.Sender, template: q.Key.Template, start: start, end: end}},
		providers.Outcome{}, true
}

// windowAfter is how far past SentAt the window reaches: lookupAfter,
// stretched by as much as not_found_after exceeds its default, so that a
// message NAVER takes as late as not_found_after after the send still
// falls inside the window that is to prove it absent.
func (c *Client) windowAfter() time.Duration {
	return lookupAfter + max(0, c.cfg.NotFoundAfter-DefaultNotFoundAfter)
}

// resolveGroup reads what NAVER lists for g and decides each of its queries.
func (c *Client) resolveGroup(ctx context.Context, g *lookupGroup, queries []providers.Query, now time.Time, out []providers.Outcome) error {
	var pool []queryMessage
	var complete func(to string) bool // whether pool holds every entry for "to"
	if id := g.key.requestID; id != "" {
		recs, all, err := c.fetch(ctx, url.Values{"requestId": {id}}, maxPagesPerFetch)
		if err != nil {
			return err
		}
		pool, complete = recs, func(string) bool { return all }
	} else {
		var tos []string
		seen := map[string]bool{}
		for _, i := range g.idx {
			if to := onlyDigits(queries[i].Message.Recipient.Digits()); !seen[to] {
				seen[to] = true
				tos = append(tos, to)
			}
		}
		base := c.windowParams(g.key)
		pages := len(tos)
		if len(tos) == 1 {
			base.Set("to", tos[0])
			pages = maxPagesPerFetch
		}
		recs, all, err := c.fetch(ctx, base, pages)
		if err != nil {
			return err
		}
		pool, complete = recs, func(string) bool { return all }
		if !all && len(tos) > 1 {
			// The window holds more of the channel's traffic than a page
			// per recipient: asking per recipient is cheaper and complete.
			pool = nil
			done := map[string]bool{}
			for _, to := range tos {
				p := cloneValues(base)
				p.Set("to", to)
				recs, all, err := c.fetch(ctx, p, maxPagesPerFetch)
				if err != nil {
					return err
				}
				pool = append(pool, recs...)
				done[to] = all
			}
			complete = func(to string) bool { return done[to] }
		}
	}
	used := make([]bool, len(pool))
	for _, i := range g.idx {
		out[i] = decide(&queries[i], g.key.requestID, pool, used, complete, now, c.cfg.NotFoundAfter)
	}
	return nil
}

// decide answers q from the listed entries in pool, taking the entry it
// matches out of further use. notFoundAfter is the account's
// not_found_after.
func decide(q *providers.Query, requestID string, pool []queryMessage, used []bool, complete func(string) bool, now time.Time, notFoundAfter time.Duration) providers.Outcome {
	to, content := onlyDigits(q.Message.Recipient.Digits()), q.Message.Recipient.Content
	best, bestRank := -1, 0
	if requestID != "" && q.Last.MessageID != "" {
		for j := range pool {
			if !used[j] && pool[j].MessageID == q.Last.MessageID {
				best = j
				break
			}
		}
	}
	if best < 0 {
		for j := range pool {
			if used[j] || onlyDigits(pool[j].To) != to {
				continue
			}
			var rank int
			switch {
			case pool[j].Content == content:
			case normalizeContent(pool[j].Content) == normalizeContent(content):
				rank = 1
			default:
				continue
			}
			// The entry that says the most: accepted before unknown before
			// permanent before retryable. An earlier attempt's B-code
			// entry must not hide a later attempt NAVER took.
			rank += 2 * classRank(recordOutcome(&pool[j], requestID).Class)
			if best < 0 || rank < bestRank {
				best, bestRank = j, rank
			}
		}
	}
	all := complete(to)
	settled := !q.SentAt.IsZero() && now.Sub(q.SentAt) >= notFoundAfter
	unknown := func(msg string) providers.Outcome {
		return providers.Outcome{Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
			RequestID: q.Last.RequestID, MessageID: q.Last.MessageID, Message: "lookup: " + msg}
	}
	if best >= 0 {
		used[best] = true
		o := recordOutcome(&pool[best], requestID)
		switch {
		case o.Class == providers.Accepted, requestID != "":
			// An entry of the request itself is this attempt's answer.
			return o
		case !all:
			return unknown("NAVER lists more than was read; only an accepted entry would be conclusive")
		case o.Class == providers.Retryable && !settled:
			// In a window the entry may be an earlier attempt's, with the
			// latest one not listed yet.
			o.Class, o.Reason = providers.Unknown, result.ReasonOutcomeUnknown
			o.Message = fmt.Sprintf("lookup: NAVER lists a failed attempt (%s) but a later one may not be listed yet", o.Code)
			return o
		}
		return o
	}
	switch {
	case !all:
		return unknown("NAVER lists more than was read; not finding the message proves nothing")
	case q.SentAt.IsZero():
		return unknown("not listed in the last 24 hours, but the send time is not known, so this proves nothing")
	case requestID != "" && q.Last.MessageID != "":
		return unknown(fmt.Sprintf("NAVER answered this message in request %s but its request query does not list it", requestID))
	case !settled:
		return unknown(fmt.Sprintf("not listed %s after the send; NAVER may list it within %s", now.Sub(q.SentAt).Round(time.Second), notFoundAfter))
	}
	return providers.Outcome{Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
		RequestID: q.Last.RequestID,
		Message: fmt.Sprintf("lookup: NAVER lists no such message %s after the send: it never took it, sending again cannot duplicate it",
			now.Sub(q.SentAt).Round(time.Second))}
}

// recordOutcome classifies one listed message with the send's table.
func recordOutcome(m *queryMessage, requestID string) providers.Outcome {
	o := providers.Outcome{Code: m.RequestStatusCode, RequestID: requestID, MessageID: m.MessageID,
		Message: strings.TrimSpace("lookup: " + m.RequestStatusDesc)}
	if m.RequestStatusCode == "" {
		o.Class, o.Reason = providers.Unknown, result.ReasonOutcomeUnknown
	} else {
		o.Class, o.Reason, o.CodeName = classify(m.RequestStatusCode, m.RequestStatusName, m.UseSmsFailover)
	}
	if o.Class == providers.Unknown && m.MessageStatusCode == "0000" {
		// Delivered (messageStatusCode 0000): whatever the request status
		// left open, NAVER took the message.
		o.Class, o.Reason, o.Code, o.CodeName = providers.Accepted, result.ReasonOK, "0000", codes["0000"].Name
	}
	return o
}

func classRank(c providers.Class) int {
	switch c {
	case providers.Accepted:
		return 0
	case providers.Unknown:
		return 1
	case providers.Permanent:
		return 2
	}
	return 3
}

// windowParams are the window path's parameters.
func (c *Client) windowParams(k groupKey) url.Values {
	v := url.Values{}
	v.Set("plusFriendId", k.sender)
	if k.template != "" {
		v.Set("templateCode", k.template)
	}
	v.Set("requestStartTime", k.start.In(c.queryLoc).Format(queryTimeLayout))
	v.Set("requestEndTime", k.end.In(c.queryLoc).Format(queryTimeLayout))
	return v
}

// fetch reads up to maxPages pages of the request query with params, one
// request a page. all is false when NAVER had more than was read.
func (c *Client) fetch(ctx context.Context, params url.Values, maxPages int) (recs []queryMessage, all bool, err error) {
	size := c.lookupPageSize
	if size <= 0 || size > maxLookupPageSize {
		size = maxLookupPageSize
	}
	p := cloneValues(params)
	p.Set("pageSize", strconv.Itoa(size))
	seen := map[string]bool{}
	for page := range maxPages {
		p.Set("pageIndex", strconv.Itoa(page))
		r, found, err := c.queryPage(ctx, p)
		if err != nil {
			return nil, false, err
		}
		if !found {
			return recs, true, nil
		}
		for _, m := range r.Messages {
			// Pages of a list that moved may repeat an entry.
			if m.MessageID != "" && seen[m.MessageID] {
				continue
			}
			seen[m.MessageID] = true
			recs = append(recs, m)
		}
		if !r.HasMore {
			return recs, true, nil
		}
		if len(r.Messages) == 0 {
			return recs, false, nil // hasMore with an empty page: paging makes no progress
		}
	}
	return recs, false, nil
}

// queryPage makes one signed request query. found is false on the empty
// 404 NAVER answers when nothing matches; any other 404 (a gateway error
// body: a wrong path or service id) is an error, never "not found".
func (c *Client) queryPage(ctx context.Context, params url.Values) (r *queryResponse, found bool, err error) {
	data, found, err := c.signedGet(ctx, c.sendURL+"?"+encodeQuery(params))
	if err != nil || !found {
		return nil, false, err
	}
	r, err = parseQueryResponse(data)
	if err != nil {
		return nil, false, fmt.Errorf("request query answer: %w", err)
	}
	return r, true, nil
}

// signedGet makes one signed GET on the query API and returns the body of
// its 200; found is false on the empty 404 NAVER answers when nothing
// matches. Any other answer is an error (queryError).
func (c *Client) signedGet(ctx context.Context, u string) (body []byte, found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, fmt.Errorf("build request query: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	sign(req, c.Now(), c.accessKey, c.secretKey)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("request query: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, false, fmt.Errorf("read request query answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return data, true, nil
	case resp.StatusCode == http.StatusNotFound && len(bytes.TrimSpace(data)) == 0:
		return nil, false, nil
	}
	return nil, false, c.queryError(resp, data)
}

// queryError is a request query NAVER refused or failed. Its class says
// whether asking again can help: auth failures and other 4xx will not
// until someone fixes the account; 429 and 5xx may.
func (c *Client) queryError(resp *http.Response, body []byte) error {
	var e *providers.Error
	if !errors.As(c.httpError(resp, body), &e) {
		return fmt.Errorf("request query: HTTP %d", resp.StatusCode)
	}
	if e.Class == providers.Unknown {
		// A lookup takes nothing: a 5xx is plainly retryable.
		e.Class, e.Reason = providers.Retryable, result.ReasonProviderUnavailable
	}
	e.Message = strings.TrimSpace("request query: " + e.Message)
	return e
}

// queryResponse is the request query's 200 answer.
type queryResponse struct {
	RequestID string
	Messages  []queryMessage
	HasMore   bool
}

type queryMessage struct {
	RequestTime       string `json:"requestTime"`
	MessageID         string `json:"messageId"`
	CountryCode       string `json:"countryCode"`
	To                string `json:"to"`
	Content           string `json:"content"`
	PlusFriendID      string `json:"plusFriendId"`
	TemplateCode      string `json:"templateCode"`
	CompleteTime      string `json:"completeTime"`
	RequestStatusCode string `json:"requestStatusCode"`
	RequestStatusName string `json:"requestStatusName"`
	RequestStatusDesc string `json:"requestStatusDesc"`
	MessageStatusCode string `json:"messageStatusCode"`
	MessageStatusName string `json:"messageStatusName"`
	MessageStatusDesc string `json:"messageStatusDesc"`
	UseSmsFailover    bool   `json:"useSmsFailover"`
	// Failover is the SMS fallback's state (report.go).
	Failover *failoverStatus `json:"failover"`
}

var errNotQueryAnswer = errors.New("not a request query answer")

// parseQueryResponse reads a 200 body strictly: an answer that is not the
// documented list must never read as "nothing matched", which would let a
// message be sent twice. messages and hasMore are required, itemCount
// (when given) must count messages, and every entry needs to and content.
func parseQueryResponse(body []byte) (*queryResponse, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmptyBody
	}
	var raw struct {
		RequestID string          `json:"requestId"`
		Messages  *[]queryMessage `json:"messages"`
		HasMore   *bool           `json:"hasMore"`
		ItemCount *int            `json:"itemCount"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("unreadable body: %w", err)
	}
	switch {
	case raw.Messages == nil:
		return nil, fmt.Errorf("%w: no messages", errNotQueryAnswer)
	case raw.HasMore == nil:
		return nil, fmt.Errorf("%w: no hasMore", errNotQueryAnswer)
	case raw.ItemCount != nil && *raw.ItemCount != len(*raw.Messages):
		return nil, fmt.Errorf("%w: itemCount %d for %d messages", errNotQueryAnswer, *raw.ItemCount, len(*raw.Messages))
	}
	for i, m := range *raw.Messages {
		if m.To == "" || m.Content == "" {
			return nil, fmt.Errorf("%w: messages[%d] has no to or content", errNotQueryAnswer, i)
		}
	}
	return &queryResponse{RequestID: raw.RequestID, Messages: *raw.Messages, HasMore: *raw.HasMore}, nil
}

// normalizeContent is the looser content comparison: line endings and
// outer whitespace, in case NAVER stores the text normalised.
func normalizeContent(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// encodeQuery is params URL-encoded with a space written %20, as the API
// reference's times need: url.Values.Encode writes it '+', which is form
// encoding, not URL encoding. Encode escapes a literal '+' as %2B, so every
// '+' it writes is a space.
func encodeQuery(params url.Values) string {
	return strings.ReplaceAll(params.Encode(), "+", "%20")
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
