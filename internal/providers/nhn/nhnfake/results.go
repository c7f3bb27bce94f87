package nhnfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// resultMessage is one entry of the result-updates answer (the FriendTalk
// v1.5 API guide's メッセージ結果アップデート照会).
type resultMessage struct {
	RequestID            string `json:"requestId"`
	RecipientSeq         int    `json:"recipientSeq"`
	PlusFriendID         string `json:"plusFriendId,omitempty"`
	SenderKey            string `json:"senderKey,omitempty"`
	RecipientNo          string `json:"recipientNo"`
	RequestDate          string `json:"requestDate"`
	ReceiveDate          string `json:"receiveDate"`
	Content              string `json:"content"`
	MessageStatus        string `json:"messageStatus"`
	ResendStatus         string `json:"resendStatus"`
	ResendStatusName     string `json:"resendStatusName"`
	ResultCode           string `json:"resultCode"`
	ResultCodeName       string `json:"resultCodeName"`
	SenderGroupingKey    string `json:"senderGroupingKey"`
	RecipientGroupingKey string `json:"recipientGroupingKey"`
}

// serveResults answers GET …/message-results: the records whose
// UpdateDate falls in [startUpdateDate, endUpdateDate] (whole minutes,
// both ends included), oldest update first, paged.
func (f *Fake) serveResults(w http.ResponseWriter, r *http.Request, product, appKey string) {
	t := f.tb
	status, _ := f.script.LookupTurn()
	if !f.readAllowed(w, r, product, appKey, "results", status) {
		return
	}
	q, breaches := resultsQuery(r.URL.RawQuery)
	for _, b := range breaches {
		t.Errorf("nhnfake: %s results: %s", product, b)
	}
	if len(breaches) > 0 {
		writeJSON(w, http.StatusBadRequest, `{"header":{"resultCode":-2000,"resultMessage":"Invalid query parameter.","isSuccessful":false}}`)
		return
	}
	start, end := q.get("startUpdateDate"), q.get("endUpdateDate")
	f.mu.Lock()
	f.advanceLocked(f.now())
	var found []*Record
	for i := range f.records {
		rec := &f.records[i]
		if minute := rec.UpdateDate[:min(len(rec.UpdateDate), len("2006-01-02 15:04"))]; rec.Product == product && start <= minute && minute <= end {
			found = append(found, rec)
		}
	}
	slices.SortStableFunc(found, func(a, b *Record) int { return strings.Compare(a.UpdateDate, b.UpdateDate) })
	msgs := make([]resultMessage, 0, len(found))
	for _, rec := range found {
		m := resultMessage{RequestID: rec.RequestID, RecipientSeq: rec.RecipientSeq, RecipientNo: rec.RecipientNo,
			RequestDate: rec.RequestDate, ReceiveDate: rec.ReceiveDate, Content: rec.Content, MessageStatus: rec.MessageStatus,
			ResendStatus: rec.ResendStatus, ResendStatusName: rec.ResendStatusName, ResultCode: rec.ResultCode,
			ResultCodeName: rec.ResultCodeName, SenderGroupingKey: rec.SenderGroupingKey, RecipientGroupingKey: rec.RecipientGroupingKey}
		if rec.Product == "friendtalk" {
			m.PlusFriendID = rec.Sender
		} else {
			m.SenderKey = rec.Sender
		}
		msgs = append(msgs, m)
	}
	f.mu.Unlock()

	pageNum, pageSize := q.int("pageNum", 1), q.int("pageSize", 15)
	page := []resultMessage{}
	if from := (pageNum - 1) * pageSize; from < len(msgs) {
		page = msgs[from:min(from+pageSize, len(msgs))]
	}
	out, _ := json.Marshal(map[string]any{
		"header":                      map[string]any{"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": true},
		"messageSearchResultResponse": map[string]any{"messages": page, "totalCount": len(msgs)},
	})
	writeJSON(w, http.StatusOK, string(out))
}

// resultsQuery parses a result-updates query and lists how it breaks the
// guide's rules: only startUpdateDate, endUpdateDate (both required,
// yyyy-MM-dd HH:mm, start not after end), pageNum >= 1 and
// 1 <= pageSize <= 1000, each at most once.
func resultsQuery(raw string) (query, []string) {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, []string{fmt.Sprintf("query %q: %v", raw, err)}
	}
	for k, vs := range v {
		if !slices.Contains([]string{"startUpdateDate", "endUpdateDate", "pageNum", "pageSize"}, k) {
			bad("unknown query parameter %q", k)
		}
		if len(vs) != 1 {
			bad("query parameter %q given %d times", k, len(vs))
		}
	}
	q := query(v)
	s, e := q.get("startUpdateDate"), q.get("endUpdateDate")
	ts, err1 := time.ParseInLocation("2006-01-02 15:04", s, kst)
	te, err2 := time.ParseInLocation("2006-01-02 15:04", e, kst)
	switch {
	case !requestDateRE.MatchString(s) || !requestDateRE.MatchString(e) || err1 != nil || err2 != nil:
		bad("startUpdateDate/endUpdateDate %q, %q: both required, yyyy-MM-dd HH:mm", s, e)
	case te.Before(ts):
		bad("startUpdateDate %q is after endUpdateDate %q", s, e)
	}
	checkPaging(q, bad)
	return q, p
}
