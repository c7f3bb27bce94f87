package naverfake

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// lookupParams are the request query's parameters (SENS AlimTalk API document: メッセージ送信
// リクエストの照会). Any other parameter is a breach.
var lookupParams = map[string]bool{
	"requestId": true, "plusFriendId": true,
	"requestStartTime": true, "requestEndTime": true,
	"completeStartTime": true, "completeEndTime": true,
	"messageId": true, "requestStatusName": true, "messageStatusName": true,
	"templateCode": true, "to": true, "pageIndex": true, "pageSize": true,
}

// lookupQuery is a checked request query.
type lookupQuery struct {
	v                          url.Values
	reqStart, reqEnd           time.Time // zero when not given
	completeStart, completeEnd time.Time
	pageIndex, pageSize        int
}

// serveLookup answers GET .../messages?... from the taken messages.
func (f *Fake) serveLookup(w http.ResponseWriter, r *http.Request) {
	if !f.queryGate(w, r) {
		return
	}
	q, problems := f.checkLookup(r.URL.Query(), r.URL.RawQuery)
	if len(problems) > 0 {
		for _, p := range problems {
			f.tb.Errorf("naverfake: query %s: %s", r.URL.RawQuery, p)
		}
		writeJSON(w, 400, map[string]any{"status": 400, "errors": problems, "errorMessage": "Bad Request"})
		return
	}

	f.mu.Lock()
	now := f.now()
	var matched []record
	for _, rec := range f.records {
		if q.matches(&rec, now) {
			matched = append(matched, rec)
		}
	}
	f.mu.Unlock()
	from := min(q.pageIndex*q.pageSize, len(matched))
	to := min(from+q.pageSize, len(matched))
	page := matched[from:to]
	if len(page) == 0 {
		// The list API answers an empty 404 when nothing matches (notes).
		w.WriteHeader(http.StatusNotFound)
		return
	}
	msgs := make([]map[string]any, len(page))
	for i, rec := range page {
		msgs[i] = rec.entry(now)
	}
	out := map[string]any{
		"statusCode": "202", "statusName": "success",
		"messages": msgs,
		"pageSize": q.pageSize, "pageIndex": q.pageIndex, "itemCount": len(page),
		"hasMore": to < len(matched),
	}
	// The API document: requestId is in the answer only when it was asked for.
	if id := q.v.Get("requestId"); id != "" {
		out["requestId"] = id
	}
	writeJSON(w, 200, out)
}

// checkLookup checks the query parameters (v, decoded from raw) against
// the API document's rules and returns the breaches.
func (f *Fake) checkLookup(v url.Values, raw string) (lookupQuery, []string) {
	q := lookupQuery{v: v, pageSize: 20}
	var errs []string
	errf := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for k, vs := range v {
		switch {
		case !lookupParams[k]:
			errf("%s: not a parameter of the request query", k)
		case len(vs) != 1:
			errf("%s: given %d times", k, len(vs))
		case vs[0] == "":
			errf("%s: empty", k)
		}
	}
	has := func(k string) bool { return v.Get(k) != "" }
	parseTime := func(k string) time.Time {
		if !has(k) {
			return time.Time{}
		}
		// The old yyyy-MM-dd'T'HH:mm:ss is refused like any other shape.
		t, err := time.ParseInLocation(queryParamLayout, v.Get(k), kst)
		if err != nil {
			errf("%s: %q is not YYYY-MM-DD HH:mm:ss", k, v.Get(k))
		}
		return t
	}
	// The space is URL-encoded (%20); '+' is form encoding, which the
	// API reference does not promise to read as a space.
	for _, kv := range strings.Split(raw, "&") {
		if name, val, _ := strings.Cut(kv, "="); strings.HasSuffix(name, "Time") && strings.Contains(val, "+") {
			errf("%s: %q writes the space as '+', want %%20", name, val)
		}
	}
	q.reqStart, q.reqEnd = parseTime("requestStartTime"), parseTime("requestEndTime")
	q.completeStart, q.completeEnd = parseTime("completeStartTime"), parseTime("completeEndTime")
	reqWindow := has("requestStartTime") || has("requestEndTime")
	completeWindow := has("completeStartTime") || has("completeEndTime")
	if has("requestStartTime") != has("requestEndTime") {
		errf("requestStartTime and requestEndTime go together")
	}
	if has("completeStartTime") != has("completeEndTime") {
		errf("completeStartTime and completeEndTime go together")
	}
	if reqWindow && completeWindow {
		errf("requestStartTime/requestEndTime and completeStartTime/completeEndTime cannot be used together")
	}
	if !has("requestId") && !reqWindow && !completeWindow {
		errf("one of requestId, requestStartTime+requestEndTime, completeStartTime+completeEndTime is required")
	}
	if !has("requestId") && !has("plusFriendId") {
		errf("plusFriendId is required without requestId")
	}
	window := func(name string, start, end time.Time, max time.Duration) {
		if start.IsZero() || end.IsZero() {
			return
		}
		if end.Before(start) {
			errf("%s window ends before it starts", name)
		}
		if end.Sub(start) > max {
			errf("%s window %s is over %s", name, end.Sub(start), max)
		}
		// Only the last 30 days are kept; the fake reads an older start as
		// a client that has not applied the limit.
		if start.Before(f.now().Add(-30 * 24 * time.Hour)) {
			errf("%s window starts more than 30 days ago", name)
		}
	}
	window("request", q.reqStart, q.reqEnd, 31*24*time.Hour)
	window("complete", q.completeStart, q.completeEnd, 24*time.Hour)
	if has("to") && !digitsRE.MatchString(v.Get("to")) {
		errf("to: %q, want digits only", v.Get("to"))
	}
	if s := v.Get("requestStatusName"); s != "" && s != "success" && s != "fail" {
		errf("requestStatusName: %q, want success or fail", s)
	}
	if s := v.Get("messageStatusName"); s != "" && s != "success" && s != "processing" && s != "fail" {
		errf("messageStatusName: %q, want success, processing or fail", s)
	}
	if has("requestId") {
		q.pageSize = 100 // the API document's default with requestId
	}
	if s := v.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			errf("pageSize: %q, want 1..100", s)
		} else {
			q.pageSize = n
		}
	}
	if s := v.Get("pageIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			errf("pageIndex: %q, want 0 or more", s)
		} else {
			q.pageIndex = n
		}
	}
	return q, errs
}

// matches reports whether rec answers q. Times compare at whole seconds,
// both ends included, as the parameters are written.
func (q *lookupQuery) matches(rec *record, now time.Time) bool {
	eq := func(k, got string) bool { w := q.v.Get(k); return w == "" || w == got }
	within := func(t, start, end time.Time) bool {
		t = t.Truncate(time.Second)
		return !t.Before(start) && !t.After(end)
	}
	_, msgStatus, _ := rec.messageStatus(now)
	switch {
	case !eq("requestId", rec.requestID), !eq("plusFriendId", rec.plusFriendID),
		!eq("templateCode", rec.templateCode), !eq("to", rec.to), !eq("messageId", rec.messageID),
		!eq("requestStatusName", rec.name), !eq("messageStatusName", msgStatus):
		return false
	case !q.reqStart.IsZero() && !within(rec.at, q.reqStart, q.reqEnd):
		return false
	case !q.completeStart.IsZero() && (rec.code != "A000" || now.Before(rec.completeTime()) || !within(rec.completeTime(), q.completeStart, q.completeEnd)):
		return false
	}
	return true
}

// queryGate takes a query request's turn of the script and answers it when
// it is unauthorized or its turn has a failure or a raw answer queued;
// true lets the request through.
func (f *Fake) queryGate(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	status, raw := f.script.LookupTurn()
	f.lastLookup = r.URL.Query()
	f.mu.Unlock()
	if !f.authorized(r) {
		writeGatewayError(w, 401, "200", "Authentication Failed", "Invalid authentication information.")
		return false
	}
	switch {
	case raw != nil:
		raw.Write(w)
		return false
	case status != 0:
		writeStatus(w, status, "")
		return false
	}
	return true
}
