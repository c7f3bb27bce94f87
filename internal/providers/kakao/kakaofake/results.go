package kakaofake

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Result polling (API reference: 알림톡 발송 결과 요청/완료 (Polling)).
// GET ResultsPath hands out the results of the messages the fake holds
// whose status is final (not API_100) and not completed yet, oldest
// first, at most the batch size (1,000), under a new report_group_no; the
// same results come again in every later batch until
// PUT CompletePath{report_group_no} completes them. Completing answers
// HTTP 200 whatever happens: code 200 when done, 410 for a group it did
// not hand out or completed already, or an injected code (FailComplete).
const (
	ResultsPath  = "/v2/info/message/results"
	CompletePath = "/v2/info/message/results/complete/"
)

// WithResultsBatch sets the most results one poll hands out (default
// 1,000, the API's).
func WithResultsBatch(n int) Option { return func(f *Fake) { f.resultsBatch = n } }

// WithPollingContract answers sends as under Kakao's polling contract: a
// message the fake takes is answered code 100 (in progress) and is
// processing (API_100, which polling does not hand out) until SetStatus
// gives it a final status.
func WithPollingContract() Option { return func(f *Fake) { f.polling = true } }

// ForgetResult makes the result polling never hand out the result of the
// message with this uid, as if Kakao had lost it; the search and detail
// APIs still list the message.
func (f *Fake) ForgetResult(uid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unpolled[uid] = true
}

// FailComplete makes the next completion answer code in its body (HTTP
// 200 still) and complete nothing.
func (f *Fake) FailComplete(code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completeFail = append(f.completeFail, code)
}

// Completed counts the results completed.
func (f *Fake) Completed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.completed)
}

// Pending counts the final results not completed yet.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pendingLocked(len(f.taken)))
}

func (f *Fake) pendingLocked(max int) []*Message {
	var out []*Message
	for _, m := range f.taken {
		if len(out) == max {
			break
		}
		if m.Status != "API_100" && !f.completed[m.UID] && !f.unpolled[m.UID] {
			out = append(out, m)
		}
	}
	return out
}

func (f *Fake) serveResults(w http.ResponseWriter, r *http.Request) {
	if !f.lookupGate(w, r) {
		return
	}
	f.mu.Lock()
	batch := f.pendingLocked(f.resultsBatch)
	ans := map[string]any{"code": "200", "code_detail": map[string]string{"detail_code": "NRM00000", "detail_message": "성공"}}
	results := []map[string]any{}
	if len(batch) > 0 {
		f.groupSeq++
		group := strconv.FormatInt(8493608862033069978+int64(f.groupSeq), 10)
		uids := make([]string, len(batch))
		for i, m := range batch {
			uids[i] = m.UID
			mt, sms := m.MessageType, m.SMSStatus
			if mt == "" {
				mt = "AT"
			}
			if sms == "" {
				sms = "-100"
			}
			results = append(results, map[string]any{
				"seq_no": 266931826 + i, "client_id": m.ClientID, "uid": m.UID, "cid": m.CID,
				"status_code": m.Status, "kko_status_code": kkoStatus(m.Status), "sms_status_code": sms,
				"ended_yn": "Y", "ended_date": m.At.In(kst).Format("2006-01-02T15:04:05"), "message_type": mt,
			})
		}
		f.groups[group] = uids
		ans["report_group_no"] = group
	}
	ans["results"] = results
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ans)
}

func (f *Fake) serveComplete(w http.ResponseWriter, r *http.Request, group string) {
	if !f.lookupGate(w, r) {
		return
	}
	f.mu.Lock()
	code := "200"
	uids, ok := f.groups[group]
	switch {
	case len(f.completeFail) > 0:
		code, f.completeFail = f.completeFail[0], f.completeFail[1:]
	case !ok:
		code = "410"
	default:
		for _, uid := range uids {
			f.completed[uid] = true
		}
		// Every group handed out before holds only results completed now
		// or still pending: completing one twice is 410.
		delete(f.groups, group)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	detail := "성공"
	if code != "200" {
		detail = "fake " + code
	}
	json.NewEncoder(w).Encode(map[string]any{"code": code, "code_detail": map[string]string{"detail_code": "NRM00000", "detail_message": detail}})
}

// routeResults serves the result polling paths; false for any other path.
func (f *Fake) routeResults(w http.ResponseWriter, r *http.Request) bool {
	switch group, isComplete := strings.CutPrefix(r.URL.Path, CompletePath); {
	case r.URL.Path == ResultsPath:
		if r.Method != http.MethodGet {
			f.tb.Errorf("kakaofake: %s %s, want GET", r.Method, r.URL.Path)
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return true
		}
		f.serveResults(w, r)
	case isComplete:
		if r.Method != http.MethodPut || group == "" || strings.Contains(group, "/") {
			f.tb.Errorf("kakaofake: %s %s, want PUT %s{report_group_no}", r.Method, r.URL.Path, CompletePath)
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return true
		}
		f.serveComplete(w, r, group)
	default:
		return false
	}
	return true
}
