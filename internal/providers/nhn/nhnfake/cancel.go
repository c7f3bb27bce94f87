package nhnfake

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cancelRoute is the send cancel of the FriendTalk v1.5 API guide
// (DELETE .../messages/{requestId}), and AlimTalk v2.3's of the same shape.
var cancelRoute = regexp.MustCompile(`^/(alimtalk)/v2\.3/appkeys/([^/]+)/messages/([^/]+)$|^/(friendtalk)/v1\.5/appkeys/([^/]+)/messages/([^/]+)$`)

// serveCancel cancels the recipients of request requestID — those listed
// in recipientSeq, or all of them — as NHN does a reservation: one whose
// requestDate has not come yet is cancelled (messageStatus CANCEL, no
// resultCode, its UpdateDate the cancel's time); a
// request with any recipient sent already (or none at all) is refused,
// and nothing of it is cancelled. Cancelling a cancelled one succeeds.
func (f *Fake) serveCancel(w http.ResponseWriter, r *http.Request, product, appKey, requestID string) {
	t := f.tb
	f.checkHeaders(r, product, appKey)
	if r.Header.Get("X-Secret-Key") != f.secretKey {
		t.Errorf("nhnfake: cancel: X-Secret-Key %q, want the account's secret", r.Header.Get("X-Secret-Key"))
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`)
		return
	}
	var seqs []int
	for _, s := range strings.Split(r.URL.Query().Get("recipientSeq"), ",") {
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Errorf("nhnfake: cancel: recipientSeq %q is not a list of numbers", r.URL.Query().Get("recipientSeq"))
			writeJSON(w, http.StatusBadRequest, `{"header":{"resultCode":-2000,"resultMessage":"Invalid recipientSeq.","isSuccessful":false}}`)
			return
		}
		seqs = append(seqs, n)
	}
	now := f.now().In(kst)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked(now)
	var hit []int
	for i := range f.records {
		rec := &f.records[i]
		if rec.RequestID != requestID || rec.Product != product || (seqs != nil && !slices.Contains(seqs, rec.RecipientSeq)) {
			continue
		}
		if at, err := time.ParseInLocation("2006-01-02 15:04", rec.RequestDate, kst); rec.MessageStatus != "CANCEL" && (err != nil || !now.Before(at)) {
			writeJSON(w, http.StatusOK, `{"header":{"resultCode":-2100,"resultMessage":"The message was already sent; only a reservation can be cancelled.","isSuccessful":false}}`)
			return
		}
		hit = append(hit, i)
	}
	if len(hit) == 0 {
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":-2101,"resultMessage":"No such request.","isSuccessful":false}}`)
		return
	}
	for _, i := range hit {
		rec := &f.records[i]
		if rec.MessageStatus == "CANCEL" {
			continue
		}
		// A cancel is a result update: the result-updates API lists the
		// record as CANCEL by the time it was cancelled (NHN does not say;
		// a status change is what the API lists).
		rec.MessageStatus, rec.ResultCode, rec.ResultCodeName, rec.steps = "CANCEL", "", "", nil
		rec.UpdateDate = now.Format(dateTimeLayout)
	}
	writeJSON(w, http.StatusOK, `{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true}}`)
}

// Canceled counts the recipients cancelled so far.
func (f *Fake) Canceled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, rec := range f.records {
		if rec.MessageStatus == "CANCEL" {
			n++
		}
	}
	return n
}
