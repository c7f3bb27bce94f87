package nhnfake

import (
	"time"

	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// What becomes of a message the fake took, as the list and result-updates
// APIs report it (FriendTalk v1.5 API guide: resultCode, messageStatus
// COMPLETED/FAILED/CANCEL, resendStatus RSC01–RSC05). By default a taken
// message is delivered at once: "1000", COMPLETED, RSC01. With
// WithDeliveryStep(d) it is first pending (COMPLETED without a resultCode)
// and moves on d after it was taken, or after its reservation
// (requestDate) when that is later:
//   - delivered: "1000";
//   - FailDelivery's code: FAILED with that code, RSC01 (no fallback), or
//     with a fallback RSC02 (due), RSC03 (sending) d later, then RSC04 or
//     RSC05 d after that;
//   - "3005" (sent, receipt unconfirmed): then "1000" d later.
//
// Each step moves the record's UpdateDate to the step's time (its
// ReceiveDate too, on a delivery), so the result-updates API lists a
// record by its latest change, as NHN does. EditRecords and a cancel stop
// the steps of the records they change.

// WithDeliveryStep makes taken messages pending for d, then step through
// their delivery states d apart (see above).
func WithDeliveryStep(d time.Duration) Option {
	return func(f *Fake) { f.deliveryStep = d }
}

// Fallback outcomes FailDelivery takes.
const (
	NoFallback     = ""
	FallbackSent   = "RSC04"
	FallbackFailed = "RSC05"
)

// delivery is what FailDelivery set for a phone.
type delivery struct{ code, fallback string }

// FailDelivery makes messages to phone (compared as digits) taken from now
// on fail to be delivered with KakaoTalk result code code ("3018"), their
// SMS/LMS fallback (the request's resendParameter or the sender's console
// setting) then going as fallback says: NoFallback, FallbackSent or
// FallbackFailed. Code "3005" (receipt unconfirmed) is followed by a
// delivery instead.
func (f *Fake) FailDelivery(phone, code, fallback string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deliveries == nil {
		f.deliveries = map[string]delivery{}
	}
	f.deliveries[providertest.Digits(phone)] = delivery{code, fallback}
}

// step is one change of a record's delivery state, due at at.
type step struct {
	at                             time.Time
	messageStatus, code, codeName  string
	resendStatus, resendStatusName string
}

// Resend statuses and names (FriendTalk v1.5 API guide).
var resendNames = map[string]string{
	"RSC01": "대체 발송 미대상", "RSC02": "대체 발송 대상", "RSC03": "대체 발송 중",
	"RSC04": "대체 발송 성공", "RSC05": "대체 발송 실패",
}

// stepsLocked are the delivery steps of a message to phone, counted from
// at: when it was taken, or its reservation when that is later. Without
// WithDeliveryStep they all fall at at.
func (f *Fake) stepsLocked(phone string, at time.Time) []step {
	d := f.deliveries[providertest.Digits(phone)]
	s := func(n int, status, code, name, resend string) step {
		return step{at: at.Add(time.Duration(n) * f.deliveryStep), messageStatus: status, code: code, codeName: name,
			resendStatus: resend, resendStatusName: resendNames[resend]}
	}
	delivered := func(n int) step { return s(n, "COMPLETED", "1000", "성공", "RSC01") }
	failed := func(n int, resend string) step {
		return s(n, "FAILED", d.code, "fake delivery failure "+d.code, resend)
	}
	switch {
	case d.code == "":
		return []step{delivered(1)}
	case d.code == "3005":
		return []step{s(1, "COMPLETED", "3005", "fake receipt unconfirmed", "RSC01"), delivered(2)}
	case d.fallback == NoFallback:
		return []step{failed(1, "RSC01")}
	}
	return []step{failed(1, "RSC02"), failed(2, "RSC03"), failed(3, d.fallback)}
}

// advanceLocked applies every step of every record that is due at now.
// Only the records with steps to come are visited (f.stepping): a fake
// that took many messages answers as fast as one that took few.
func (f *Fake) advanceLocked(now time.Time) {
	waiting := f.stepping[:0]
	for _, i := range f.stepping {
		rec := &f.records[i]
		for len(rec.steps) > 0 && !rec.steps[0].at.After(now) {
			s := rec.steps[0]
			rec.steps = rec.steps[1:]
			rec.MessageStatus, rec.ResultCode, rec.ResultCodeName = s.messageStatus, s.code, s.codeName
			rec.ResendStatus, rec.ResendStatusName = s.resendStatus, s.resendStatusName
			rec.UpdateDate = s.at.In(kst).Format(dateTimeLayout)
			if s.code == "1000" {
				rec.ReceiveDate = rec.UpdateDate
			}
		}
		if len(rec.steps) > 0 {
			waiting = append(waiting, i)
		}
	}
	f.stepping = waiting
}

// dateTimeLayout is the layout of NHN's createDate, updateDate and
// receiveDate.
const dateTimeLayout = "2006-01-02 15:04:05"
