package kakao

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Lookups of unknown outcomes (providers.Resolver).
//
// A message whose send answer carried a uid (codes 100 and 500) is looked
// up by it: GET {detail_path}. A message without one (a timeout, an HTTP
// 5xx) is looked up by its cid in the message list: POST {search_path} for
// the KST day(s) of the send, paged by last_uid, one scan for every query
// of the same days.
//
// The polling API (GET /v2/info/message/results, then
// PUT .../results/complete/{report_group_no}) is deliberately not used for
// lookups (delivery reports use it, when enabled: report.go): it
// is a queue with one consumer, not a query. It hands each result out once
// a batch and must be completed, or the same batch comes again; reading it
// here would take results away from the customer's own polling consumer
// (or, left incomplete, block it behind our batch). The list and detail
// APIs only read.
const (
	// DefaultNotFoundAfter is the default of not_found_after
	// (Config.NotFoundAfter): how long after a send a complete scan of the
	// message list that does not hold the message's cid proves Kakao never
	// took it (Retryable). Sooner, the message may not be listed yet
	// (Unknown). The API reference does not say how soon Kakao lists a message it
	// took; two minutes is our margin, far above the seconds a send takes.
	DefaultNotFoundAfter = providers.DefaultNotFoundAfter
	// SearchPageSize is the size of each search page, the API's maximum.
	SearchPageSize = 1000
	// MaxSearchPages caps the pages one scan reads (20 pages: the first
	// 20,000 messages of the account on the send's day(s)). A scan that
	// stops at the cap is incomplete: what it did not find stays Unknown.
	MaxSearchPages = 20
	// searchMargin widens a send time on both sides before it is turned
	// into search dates: clock skew between us and Kakao, and the time the
	// request took, may put the message's reg_date on the next or previous
	// KST day. It is for the default not_found_after; searchAfter
	// stretches the forward side for a longer one.
	searchMargin = 10 * time.Minute
	// maxLookupAnswer bounds how much of a query answer is read (a page of
	// 1000 entries with every documented field is well under it).
	maxLookupAnswer = 8 << 20
)

var _ providers.Resolver = (*Client)(nil)

// Resolve implements providers.Resolver: one outcome per query, in order.
// A query request that fails (transport, auth, an unreadable answer) fails
// the whole call; the caller asks again later.
func (c *Client) Resolve(ctx context.Context, queries []providers.Query) ([]providers.Outcome, error) {
	out := make([]providers.Outcome, len(queries))
	now := c.now()
	type scanKey struct{ start, end string }
	scans := map[scanKey][]int{}
	var order []scanKey
	for i, q := range queries {
		if q.Message.Job == nil {
			out[i] = unknownOutcome("query without its message's job: no cid to look up")
			continue
		}
		if uid := q.Last.MessageID; uid != "" {
			o, err := c.lookupUID(ctx, uid, cidsOf(&q))
			if err != nil {
				return nil, fmt.Errorf("%s: look up uid %s: %w", Name, uid, err)
			}
			out[i] = o
			continue
		}
		start, end := searchDates(q.SentAt, now, c.searchAfter())
		k := scanKey{start, end}
		if _, ok := scans[k]; !ok {
			order = append(order, k)
		}
		scans[k] = append(scans[k], i)
	}
	for _, k := range order {
		idx := scans[k]
		want := make(map[string]string, len(idx))
		for _, i := range idx {
			cids := cidsOf(&queries[i])
			for _, cid := range cids {
				want[cid] = cids[0]
			}
		}
		found, complete, err := c.scan(ctx, k.start, k.end, want)
		if err != nil {
			return nil, fmt.Errorf("%s: search %s..%s: %w", Name, k.start, k.end, err)
		}
		for _, i := range idx {
			q := &queries[i]
			cid := CID(q.Message.Job.ID, q.Message.Index)
			var recs []record
			for _, c := range cidsOf(q) {
				recs = append(recs, found[c]...)
			}
			// A listing other than acceptance is conclusive only from a
			// complete scan, not_found_after after a known send time: before,
			// the attempt asked about may not be listed yet, behind an
			// earlier attempt's record of the same cid.
			settled := complete && !q.SentAt.IsZero() && now.Sub(q.SentAt) >= c.cfg.NotFoundAfter
			out[i] = decide(recs, settled, cid, k.start, k.end, c.cfg.NotFoundAfter)
		}
	}
	for i := range out {
		if queries[i].Message.Job != nil {
			c.inProgress(&queries[i].Message, &out[i])
		}
	}
	return out, nil
}

// cidsOf are the cids q's message may have been sent with: CID, and the
// hashed cid of a message sent before cids were decodable.
func cidsOf(q *providers.Query) []string {
	cid, hashed := CID(q.Message.Job.ID, q.Message.Index), HashedCID(q.Message.Job.ID, q.Message.Index)
	if cid == hashed {
		return []string{cid}
	}
	return []string{cid, hashed}
}

// decide turns the listed records of one cid into its outcome. Of several
// records (a message sent again after 520 keeps its cid), an acceptance
// wins, then a record still in doubt, then a refusal. settled is whether
// a complete scan was made notFoundAfter (the account's not_found_after)
// or more after a known send time.
func decide(recs []record, settled bool, cid, start, end string, notFoundAfter time.Duration) providers.Outcome {
	if len(recs) == 0 {
		if !settled {
			o := unknownOutcome(fmt.Sprintf("cid %s not in Kakao's message list for %s..%s yet (the scan was incomplete, or the send is too recent or its time unknown)", cid, start, end))
			o.RequestID = cid
			return o
		}
		return providers.Outcome{Class: providers.Retryable, Reason: result.ReasonProviderUnavailable, RequestID: cid,
			Message: fmt.Sprintf("cid %s not in Kakao's complete message list for %s..%s, %s or more after the send: Kakao never took it", cid, start, end, notFoundAfter)}
	}
	var best *providers.Outcome
	rank := map[providers.Class]int{providers.Accepted: 4, providers.Unknown: 3, providers.Permanent: 2, providers.Retryable: 1}
	for _, r := range recs {
		o := r.outcome()
		if best == nil || rank[o.Class] > rank[best.Class] {
			best = &o
		}
	}
	if best.Class != providers.Accepted && best.Class != providers.Unknown && !settled {
		o := *best
		o.Class, o.Reason = providers.Unknown, result.ReasonOutcomeUnknown
		o.Message = fmt.Sprintf("listed with status %s (%s), not yet conclusive: a later attempt may not be listed yet", best.Code, best.CodeName)
		return o
	}
	return *best
}

func unknownOutcome(msg string) providers.Outcome {
	return providers.Outcome{Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown, Message: msg}
}

// searchAfter is how far past the send time the searched dates reach:
// searchMargin, stretched by as much as not_found_after exceeds its
// default, so that a message Kakao takes as late as not_found_after after
// the send still falls on a searched day.
func (c *Client) searchAfter() time.Duration {
	return searchMargin + max(0, c.cfg.NotFoundAfter-DefaultNotFoundAfter)
}

// searchDates returns the KST dates (yyyy-mm-dd) to search for a message
// sent at sentAt: its day, or two when sentAt-searchMargin..sentAt+after
// crosses midnight. A send time not known (zero) searches yesterday and
// today. The end is never after today.
func searchDates(sentAt, now time.Time, after time.Duration) (start, end string) {
	from, to := now.Add(-24*time.Hour), now
	if !sentAt.IsZero() {
		from, to = sentAt.Add(-searchMargin), sentAt.Add(after)
		if to.After(now) {
			to = now
		}
		if from.After(to) {
			from = to
		}
	}
	return from.In(msgcheck.KST).Format(time.DateOnly), to.In(msgcheck.KST).Format(time.DateOnly)
}

// searchRequest is the body of POST /v2/info/message/search. client_id is
// never sent: a narrower search than the account's whole list could leave
// out a message we sent, and a missing message reads as "never taken".
type searchRequest struct {
	StartDate string `json:"start_date"`
	EndDate   string `json:"end_date"`
	Size      int    `json:"size"`
	LastUID   string `json:"last_uid,omitempty"`
}

// scan pages through the message list from start to end and returns the
// records of the wanted cids; want maps each to its message's CID (a
// message may have been sent with a hashed cid: cidsOf). It stops early
// once every wanted message has an accepted record (nothing later can
// change that). complete reports that
// the list was read to its end: not at the page cap, every entry with a
// cid, and a page cursor to follow whenever there was a next page.
func (c *Client) scan(ctx context.Context, start, end string, want map[string]string) (found map[string][]record, complete bool, err error) {
	found = map[string][]record{}
	messages := map[string]bool{}
	for _, msg := range want {
		messages[msg] = true
	}
	accepted := map[string]bool{} // messages with an accepted record
	complete = true
	cursor := ""
	for range c.searchPages {
		body, err := json.Marshal(searchRequest{StartDate: start, EndDate: end, Size: c.searchSize, LastUID: cursor})
		if err != nil {
			return nil, false, err
		}
		_, data, err := c.query(ctx, http.MethodPost, c.cfg.SearchPath, body, false)
		if err != nil {
			return nil, false, err
		}
		page, err := parseSearchPage(data)
		if err != nil {
			return nil, false, err
		}
		for _, r := range page.Results {
			if r.CID == "" {
				// Not matchable: it might be ours, so its absence from the
				// matches proves nothing.
				complete = false
				continue
			}
			msg, ok := want[r.CID]
			if !ok {
				continue
			}
			if r.outcome().Class == providers.Accepted {
				accepted[msg] = true
			}
			found[r.CID] = append(found[r.CID], r)
		}
		if len(accepted) == len(messages) {
			return found, complete, nil
		}
		more := page.Next
		if !page.NextKnown {
			// No next flag: a full page may have more behind it.
			more = len(page.Results) >= c.searchSize
		}
		if !more {
			return found, complete, nil
		}
		next := page.LastUID
		if next == "" && len(page.Results) > 0 {
			next = page.Results[len(page.Results)-1].UID
		}
		if next == "" || next == cursor {
			// A next page we cannot ask for.
			return found, false, nil
		}
		cursor = next
	}
	return found, false, nil
}

// lookupUID looks up one message by the uid Kakao answered for it. A uid
// the detail API does not know (HTTP 404) is Unknown: Kakao gave it, so
// it may yet list it, and only a search by cid could prove otherwise.
//
// cids are the message's cids, CID's first: a detail of any of them is its.
func (c *Client) lookupUID(ctx context.Context, uid string, cids []string) (providers.Outcome, error) {
	cid := cids[0]
	r, found, err := c.detail(ctx, uid)
	if err != nil {
		return providers.Outcome{}, err
	}
	if !found {
		o := unknownOutcome(fmt.Sprintf("uid %s not known to Kakao's detail API yet", uid))
		o.MessageID, o.RequestID = uid, cid
		return o, nil
	}
	if r.UID == "" && r.Status == "" {
		o := unknownOutcome(fmt.Sprintf("detail of uid %s without a result", uid))
		o.MessageID, o.RequestID = uid, cid
		return o, nil
	}
	if r.CID != "" && !slices.Contains(cids, r.CID) {
		o := unknownOutcome(fmt.Sprintf("detail of uid %s is of cid %s, not ours (%s)", uid, r.CID, cid))
		o.MessageID, o.RequestID = uid, cid
		return o, nil
	}
	if r.UID == "" {
		r.UID = uid
	}
	if r.CID == "" {
		r.CID = cid
	}
	return r.outcome(), nil
}

// detail reads the message with this uid from the detail API; found is
// false when the API does not know the uid (HTTP 404).
func (c *Client) detail(ctx context.Context, uid string) (r record, found bool, err error) {
	path := strings.Replace(c.cfg.DetailPath, UIDPlaceholder, url.PathEscape(uid), 1)
	status, data, err := c.query(ctx, http.MethodGet, path, nil, true)
	if err != nil || status == http.StatusNotFound {
		return record{}, false, err
	}
	r, err = parseDetail(data)
	return r, err == nil, err
}

// query makes one query request with the account's token, renewing it once
// on 401 as Send does. It returns the answer of a 2xx (or, with notFoundOK,
// a 404); any other status is an error.
func (c *Client) query(ctx context.Context, method, path string, body []byte, notFoundOK bool) (int, []byte, error) {
	token, err := c.tokens.get(ctx, "")
	if err != nil {
		return 0, nil, err
	}
	status, data, err := c.queryOnce(ctx, method, path, token, body)
	if err == nil && status == http.StatusUnauthorized {
		if token, err = c.tokens.get(ctx, token); err != nil {
			return 0, nil, err
		}
		status, data, err = c.queryOnce(ctx, method, path, token, body)
	}
	if err != nil {
		return 0, nil, err
	}
	if (status >= 200 && status <= 299) || (notFoundOK && status == http.StatusNotFound) {
		return status, data, nil
	}
	pe := &providers.Error{Provider: Name, HTTPStatus: status, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable}
	var ans struct {
		Code       json.RawMessage `json:"code"`
		CodeDetail json.RawMessage `json:"code_detail"`
	}
	if json.Unmarshal(data, &ans) == nil {
		pe.Code = jsonString(ans.Code)
		pe.Message = detailText(ans.CodeDetail)
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		pe.Class, pe.Reason = providers.Permanent, result.ReasonAuth
	case status == http.StatusTooManyRequests:
		pe.Reason = result.ReasonRateLimited
	}
	return 0, nil, pe
}

func (c *Client) queryOnce(ctx context.Context, method, path, token string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, rd)
	if err != nil {
		return 0, nil, &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob,
			Message: "build query request", Err: err}
	}
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			Message: "query request failed", Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLookupAnswer+1))
	if err == nil && len(data) > maxLookupAnswer {
		err = fmt.Errorf("answer over %d bytes", maxLookupAnswer)
	}
	if err != nil {
		return 0, nil, &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			HTTPStatus: resp.StatusCode, Message: "read query answer", Err: err}
	}
	return resp.StatusCode, data, nil
}

// record is one message as the list and detail APIs describe it.
type record struct {
	UID, CID     string
	Status       string // status_code: API_200...
	KkoStatus    string // kko_status_code
	SMSStatus    string // sms_status_code
	SMSType      string // sms_type (detail): SM or LM, the fallback's type
	ErrorMessage string // error_message
}

// statusInfo classifies a message's status_code. The API reference shows API_200
// for success and refers to a status code table it does not include;
// integrations of this API read API_100 as still processing. The codes are
// read as "API_" and the send answer's code, classified as Codes does
// (API_100 and API_500 unknown, API_520 retryable, API_510 and API_4xx
// permanent); a bare code is read the same way. Anything else is Unknown:
// an unrecognised status never leads to a resend.
func statusInfo(status string) codeInfo {
	code := strings.TrimPrefix(strings.TrimSpace(status), "API_")
	if info, ok := Codes[code]; ok {
		return info
	}
	return codeInfo{Name: "undocumented status", Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown}
}

// outcome is the record's outcome.
func (r record) outcome() providers.Outcome {
	info := statusInfo(r.Status)
	var msg []string
	for _, kv := range [][2]string{{"kko_status_code", r.KkoStatus}, {"sms_status_code", r.SMSStatus}, {"error_message", r.ErrorMessage}} {
		if kv[1] != "" {
			msg = append(msg, kv[0]+" "+kv[1])
		}
	}
	return providers.Outcome{Class: info.Class, Reason: info.Reason, Code: r.Status, CodeName: info.Name,
		Message: strings.Join(msg, ", "), RequestID: r.CID, MessageID: r.UID}
}

// wireRecord reads a record leniently: every scalar may be a string or a
// number. A cid of another type makes the record unreadable (it might be
// ours), and so the page.
type wireRecord struct {
	UID          json.RawMessage `json:"uid"`
	CID          json.RawMessage `json:"cid"`
	StatusCode   json.RawMessage `json:"status_code"`
	KkoStatus    json.RawMessage `json:"kko_status_code"`
	SMSStatus    json.RawMessage `json:"sms_status_code"`
	SMSType      json.RawMessage `json:"sms_type"`
	ErrorMessage json.RawMessage `json:"error_message"`
}

func (w *wireRecord) record() (record, error) {
	r := record{UID: jsonString(w.UID), CID: jsonString(w.CID), Status: jsonString(w.StatusCode),
		KkoStatus: jsonString(w.KkoStatus), SMSStatus: jsonString(w.SMSStatus), SMSType: jsonString(w.SMSType),
		ErrorMessage: jsonString(w.ErrorMessage)}
	if r.CID == "" && !isNullOrAbsent(w.CID) {
		return record{}, fmt.Errorf("cid %s is not a string", w.CID)
	}
	return r, nil
}

func isNullOrAbsent(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null" || s == `""`
}

// searchPage is one page of the message list.
type searchPage struct {
	Next      bool
	NextKnown bool // the answer had a next flag
	LastUID   string
	Results   []record
}

// answerCode is a query answer's code; the search answer also carries
// status, which stands in for a missing code.
func answerCode(code, status json.RawMessage) string {
	if s := strings.TrimSpace(jsonString(code)); s != "" {
		return s
	}
	return strings.TrimSpace(jsonString(status))
}

// parseSearchPage reads a 2xx answer of the search API. An answer that is
// not JSON, whose code is not 200, or with an entry that cannot be read is
// an error: a page misread could hide a message that Kakao took.
func parseSearchPage(data []byte) (searchPage, error) {
	var ans struct {
		Status     json.RawMessage   `json:"status"`
		Code       json.RawMessage   `json:"code"`
		Next       json.RawMessage   `json:"next"`
		LastUID    json.RawMessage   `json:"last_uid"`
		CodeDetail json.RawMessage   `json:"code_detail"`
		Results    []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return searchPage{}, lookupParseError("unreadable search answer", err)
	}
	if code := answerCode(ans.Code, ans.Status); code != "200" {
		return searchPage{}, &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			Code: code, Message: "search answered " + quoteOrNone(code) + ": " + detailText(ans.CodeDetail)}
	}
	p := searchPage{LastUID: jsonString(ans.LastUID)}
	switch strings.TrimSpace(string(ans.Next)) {
	case "", "null":
	case "true", `"true"`, `"Y"`, `"y"`:
		p.Next, p.NextKnown = true, true
	case "false", `"false"`, `"N"`, `"n"`:
		p.NextKnown = true
	default:
		return searchPage{}, lookupParseError(fmt.Sprintf("search answer next %s is not a boolean", ans.Next), nil)
	}
	for i, raw := range ans.Results {
		var w wireRecord
		if err := json.Unmarshal(raw, &w); err != nil {
			return searchPage{}, lookupParseError(fmt.Sprintf("search result %d unreadable", i), err)
		}
		r, err := w.record()
		if err != nil {
			return searchPage{}, lookupParseError(fmt.Sprintf("search result %d", i), err)
		}
		p.Results = append(p.Results, r)
	}
	return p, nil
}

// parseDetail reads a 2xx answer of the detail API. A missing or null
// result gives a zero record.
func parseDetail(data []byte) (record, error) {
	var ans struct {
		Code       json.RawMessage `json:"code"`
		CodeDetail json.RawMessage `json:"code_detail"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return record{}, lookupParseError("unreadable detail answer", err)
	}
	if code := answerCode(ans.Code, nil); code != "200" {
		return record{}, &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			Code: code, Message: "detail answered " + quoteOrNone(code) + ": " + detailText(ans.CodeDetail)}
	}
	if isNullOrAbsent(ans.Result) {
		return record{}, nil
	}
	var w wireRecord
	if err := json.Unmarshal(ans.Result, &w); err != nil {
		return record{}, lookupParseError("detail result unreadable", err)
	}
	r, err := w.record()
	if err != nil {
		return record{}, lookupParseError("detail result", err)
	}
	return r, nil
}

func lookupParseError(msg string, err error) *providers.Error {
	return &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable, Message: msg, Err: err}
}

func quoteOrNone(code string) string {
	if code == "" {
		return "without a code"
	}
	return "code " + code
}

// detailText renders code_detail {detail_code, detail_message}.
func detailText(raw json.RawMessage) string {
	var d struct {
		Code    json.RawMessage `json:"detail_code"`
		Message json.RawMessage `json:"detail_message"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return ""
	}
	code, msg := jsonString(d.Code), jsonString(d.Message)
	if code != "" && msg != "" {
		return code + ": " + msg
	}
	return code + msg
}
