package naverfake

import (
	"net/http"
	"strings"
	"time"
)

// The delivery states the request list reports (API document:
// メッセージ送信リクエストの照会, messageStatusName and the failover block).
// A message the fake took is "processing" until its completeTime, a
// second after it was taken, then delivered, or failed with the code
// FailDelivery set for its phone. A failed message that asked for
// useSmsFailover (and whose code is not B-prefixed: NAVER sends no
// fallback for those) gets an SMS fallback: PROCESSING for another second,
// then COMPLETED with receipt code 0.

// FailDelivery makes messages to phone taken from now on fail to be
// delivered with the KakaoTalk receipt code code (e.g. "3018").
func (f *Fake) FailDelivery(phone, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.undelivered[phone] = code
}

// completeTime is when the fake says a taken message was delivered.
func (r *record) completeTime() time.Time { return r.at.Add(time.Second) }

// messageStatus is what the list says of rec's delivery at now.
func (r *record) messageStatus(now time.Time) (code, name, desc string) {
	switch {
	case r.code != "A000":
		return r.code, "fail", r.desc
	case now.Before(r.completeTime()):
		return "", "processing", ""
	case r.deliveryCode != "":
		return r.deliveryCode, "fail", "fake delivery failure " + r.deliveryCode
	}
	return "0000", "success", "성공"
}

// failover is rec's failover block at now, or nil when it has none.
func (r *record) failover(now time.Time) map[string]any {
	if _, name, _ := r.messageStatus(now); name != "fail" || r.code != "A000" || !r.useSmsFailover || strings.HasPrefix(r.deliveryCode, "B") {
		return nil
	}
	fo := map[string]any{"requestStatusCode": "0", "requestStatusName": "success", "requestStatusDesc": "성공",
		"messageStatus": "PROCESSING"}
	if !now.Before(r.completeTime().Add(time.Second)) {
		fo["messageStatus"], fo["messageStatusCode"], fo["messageStatusName"], fo["messageStatusDesc"] = "COMPLETED", "0", "success", "성공"
	}
	return fo
}

// entry is rec as the query API lists it at now.
func (r *record) entry(now time.Time) map[string]any {
	m := map[string]any{
		"requestTime": r.at.In(kst).Format(requestTimeLayout),
		"messageId":   r.messageID, "countryCode": r.countryCode,
		"to": r.to, "content": r.content,
		"plusFriendId": r.plusFriendID, "templateCode": r.templateCode,
		"requestStatusCode": r.code, "requestStatusName": r.name, "requestStatusDesc": r.desc,
		"useSmsFailover": r.useSmsFailover,
	}
	m["messageStatusCode"], m["messageStatusName"], m["messageStatusDesc"] = r.messageStatus(now)
	if r.code == "A000" && !now.Before(r.completeTime()) {
		m["completeTime"] = r.completeTime().In(kst).Format(completeTimeLayout)
	}
	if fo := r.failover(now); fo != nil {
		m["failover"] = fo
	}
	return m
}

// serveMessage answers GET .../messages/{messageId} (API document:
// メッセージ送信結果の照会): the message with its requestId, or the empty 404
// the list answers when nothing matches.
func (f *Fake) serveMessage(w http.ResponseWriter, r *http.Request, messageID string) {
	if !f.queryGate(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.records {
		if rec := &f.records[i]; rec.messageID == messageID {
			m := rec.entry(f.now())
			m["requestId"] = rec.requestID
			writeJSON(w, 200, m)
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
}
