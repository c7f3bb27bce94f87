package naverfake

import (
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
