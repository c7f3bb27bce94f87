package nhnfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// listParams are the query parameters of the list APIs, per product.
// FriendTalk v1.5: the FriendTalk v1.5 API guide (送信リスト照会). AlimTalk v2.3: not in NHN
// Cloud's public guides; assumed to be FriendTalk's with senderKey and templateCode in
// place of plusFriendId.
var listParams = map[string][]string{
	"friendtalk": {"requestId", "startRequestDate", "endRequestDate", "startCreateDate", "endCreateDate",
		"recipientNo", "plusFriendId", "senderGroupingKey", "recipientGroupingKey", "messageStatus",
		"resultCode", "createUser", "pageNum", "pageSize"},
	"alimtalk": {"requestId", "startRequestDate", "endRequestDate", "startCreateDate", "endCreateDate",
		"recipientNo", "senderKey", "templateCode", "senderGroupingKey", "recipientGroupingKey", "messageStatus",
		"resultCode", "createUser", "pageNum", "pageSize"},
	// Brand Message API v1.0 Guide (View sending list).
	"brand-message": {"requestId", "startRequestDate", "endRequestDate", "senderKey", "templateCode", "recipientNo",
		"messageStatus", "resultCode", "senderGroupingKey", "recipientGroupingKey", "pageNum", "pageSize"},
}

// readAllowed checks the headers of a read (list or results) and answers
// it when its secret is wrong or status (an injected failure) is set; it
// reports whether the read goes on.
func (f *Fake) readAllowed(w http.ResponseWriter, r *http.Request, product, appKey, api string, status int) bool {
	f.checkHeaders(r, product, appKey)
	if r.Header.Get("X-Secret-Key") != f.secretKey {
		f.tb.Errorf("nhnfake: %s: X-Secret-Key %q, want the account's secret", api, r.Header.Get("X-Secret-Key"))
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`)
		return false
	}
	if status != 0 {
		writeStatus(w, status, "")
		return false
	}
	return true
}

// listMessage is one entry of messageSearchResultResponse.messages (guide // 001's fields; for AlimTalk senderKey/templateCode replace plusFriendId).
type listMessage struct {
	RequestID            string `json:"requestId"`
	RecipientSeq         int    `json:"recipientSeq"`
	PlusFriendID         string `json:"plusFriendId,omitempty"`
	SenderKey            string `json:"senderKey,omitempty"`
	TemplateCode         string `json:"templateCode,omitempty"`
	RecipientNo          string `json:"recipientNo"`
	RequestDate          string `json:"requestDate"`
	CreateDate           string `json:"createDate"`
	Content              string `json:"content"`
	MessageStatus        string `json:"messageStatus"`
	ResendStatus         string `json:"resendStatus"`
	ResendStatusName     string `json:"resendStatusName"`
	ResultCode           string `json:"resultCode"`
	ResultCodeName       string `json:"resultCodeName"`
	CreateUser           string `json:"createUser"`
	SenderGroupingKey    string `json:"senderGroupingKey"`
	RecipientGroupingKey string `json:"recipientGroupingKey"`
}

// serveList answers GET …/messages from the records the fake holds.
func (f *Fake) serveList(w http.ResponseWriter, r *http.Request, product, appKey string) {
	t := f.tb
	status, _ := f.script.LookupTurn() // NHN has no raw answers

	if !f.readAllowed(w, r, product, appKey, "list", status) {
		return
	}
	q, breaches := listQuery(product, r.URL.RawQuery)
	for _, b := range breaches {
		t.Errorf("nhnfake: %s list: %s", product, b)
	}
	if len(breaches) > 0 {
		writeJSON(w, http.StatusBadRequest, `{"header":{"resultCode":-2000,"resultMessage":"Invalid query parameter.","isSuccessful":false}}`)
		return
	}

	f.mu.Lock()
	f.advanceLocked(f.now())
	var found []listMessage
	for i := len(f.records) - 1; i >= 0; i-- { // newest first
		rec := &f.records[i]
		if rec.Product == product && q.matches(rec) {
			found = append(found, rec.listMessage())
		}
	}
	f.mu.Unlock()

	pageNum, pageSize := q.int("pageNum", 1), q.int("pageSize", 15)
	page := []listMessage{}
	if from := (pageNum - 1) * pageSize; from < len(found) {
		page = found[from:min(from+pageSize, len(found))]
	}
	out, _ := json.Marshal(map[string]any{
		"header": map[string]any{"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": true},
		"messageSearchResultResponse": map[string]any{
			"messages": page, "pageNum": pageNum, "pageSize": pageSize, "totalCount": len(found),
		},
	})
	writeJSON(w, http.StatusOK, string(out))
}

func (rec *Record) listMessage() listMessage {
	m := listMessage{
		RequestID: rec.RequestID, RecipientSeq: rec.RecipientSeq, RecipientNo: rec.RecipientNo,
		RequestDate: rec.RequestDate, CreateDate: rec.CreateDate, Content: rec.Content,
		MessageStatus: rec.MessageStatus, ResendStatus: rec.ResendStatus, ResendStatusName: rec.ResendStatusName,
		ResultCode: rec.ResultCode, ResultCodeName: rec.ResultCodeName,
		SenderGroupingKey: rec.SenderGroupingKey, RecipientGroupingKey: rec.RecipientGroupingKey,
	}
	if rec.Product == "friendtalk" {
		m.PlusFriendID = rec.Sender
	} else {
		m.SenderKey, m.TemplateCode = rec.Sender, rec.TemplateCode
	}
	return m
}

// query is a validated list query.
type query url.Values

func (q query) get(k string) string { return url.Values(q).Get(k) }

func (q query) int(k string, def int) int {
	if v := q.get(k); v != "" {
		n, _ := strconv.Atoi(v)
		return n
	}
	return def
}

// matches reports whether rec passes every filter of q.
func (q query) matches(rec *Record) bool {
	eq := func(param, v string) bool { p := q.get(param); return p == "" || p == v }
	within := func(start, end, v string) bool {
		s, e := q.get(start), q.get(end)
		if s == "" {
			return true
		}
		v = v[:min(len(v), len("2006-01-02 15:04"))]
		return s <= v && v <= e // the same layout: text order is time order
	}
	sender := "senderKey"
	if rec.Product == "friendtalk" {
		sender = "plusFriendId"
	}
	switch q.get("resultCode") {
	case "MRC01":
		if rec.ResultCode != "1000" {
			return false
		}
	case "MRC02":
		if rec.ResultCode == "1000" {
			return false
		}
	}
	return eq("requestId", rec.RequestID) &&
		within("startRequestDate", "endRequestDate", rec.RequestDate) &&
		within("startCreateDate", "endCreateDate", rec.CreateDate) &&
		(q.get("recipientNo") == "" || providertest.Digits(q.get("recipientNo")) == providertest.Digits(rec.RecipientNo)) &&
		eq(sender, rec.Sender) && eq("templateCode", rec.TemplateCode) &&
		eq("senderGroupingKey", rec.SenderGroupingKey) && eq("recipientGroupingKey", rec.RecipientGroupingKey) &&
		eq("messageStatus", rec.MessageStatus) && q.get("createUser") == ""
}

// listQuery parses a list request's query string and lists how it breaks
// the guide's rules: only its parameters, each at most once; requestId or
// a complete request-date or create-date range (yyyy-MM-dd HH:mm, start
// not after end); messageStatus COMPLETED/FAILED; resultCode MRC01/MRC02;
// pageNum >= 1; 1 <= pageSize <= 1000.
func listQuery(product, raw string) (query, []string) {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, []string{fmt.Sprintf("query %q: %v", raw, err)}
	}
	for k, vs := range v {
		if !slices.Contains(listParams[product], k) {
			bad("unknown query parameter %q", k)
		}
		if len(vs) != 1 {
			bad("query parameter %q given %d times", k, len(vs))
		}
	}
	q := query(v)
	dateRange := func(start, end string) bool {
		s, e := q.get(start), q.get(end)
		if s == "" && e == "" {
			return false
		}
		if s == "" || e == "" {
			bad("%s and %s go together (got %q, %q)", start, end, s, e)
			return false
		}
		ts, err1 := time.ParseInLocation("2006-01-02 15:04", s, kst)
		te, err2 := time.ParseInLocation("2006-01-02 15:04", e, kst)
		if !requestDateRE.MatchString(s) || !requestDateRE.MatchString(e) || err1 != nil || err2 != nil {
			bad("%s/%s %q, %q: want yyyy-MM-dd HH:mm", start, end, s, e)
			return false
		}
		if te.Before(ts) {
			bad("%s %q is after %s %q", start, s, end, e)
		}
		return true
	}
	byRequest, byCreate := dateRange("startRequestDate", "endRequestDate"), dateRange("startCreateDate", "endCreateDate")
	if q.get("requestId") == "" && !byRequest && !byCreate {
		bad("requestId, or startRequestDate and endRequestDate, or startCreateDate and endCreateDate is required")
	}
	if s := q.get("messageStatus"); s != "" && s != "COMPLETED" && s != "FAILED" {
		bad("messageStatus %q: COMPLETED or FAILED", s)
	}
	if c := q.get("resultCode"); c != "" && c != "MRC01" && c != "MRC02" {
		bad("resultCode %q: MRC01 or MRC02", c)
	}
	checkPaging(q, bad)
	return q, p
}

// checkPaging reports a pageNum below 1 and a pageSize outside 1..1000.
func checkPaging(q query, bad func(format string, args ...any)) {
	if s := q.get("pageNum"); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 {
			bad("pageNum %q: an integer from 1", s)
		}
	}
	if s := q.get("pageSize"); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 1000 {
			bad("pageSize %q: an integer from 1 to 1000", s)
		}
	}
}
