package nhn

import (
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// FuzzResultUpdates feeds arbitrary result-update answers to the parser
// and the report mapping: no panic; every report is of a terminal state,
// of the recipient its key names (a key talkrelay made), a fallback state
// only after a fallback outcome, and a cancellation (CANCEL) a failed
// report marked Canceled.
func FuzzResultUpdates(f *testing.F) {
	for _, seed := range []string{
		`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"messageSearchResultResponse":{"messages":[{"requestId":"r1","recipientSeq":1,"recipientNo":"01000000000","requestDate":"2026-06-20 12:00","receiveDate":"2026-06-20 12:00:05","messageStatus":"COMPLETED","resendStatus":"RSC01","resultCode":"1000","resultCodeName":"성공","recipientGroupingKey":"job.1/0"}],"totalCount":1}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"messageSearchResultResponse":{"messages":[{"requestId":"r1","recipientSeq":2,"messageStatus":"FAILED","resultCode":"3015","resendStatus":"RSC04","recipientGroupingKey":"job/1"},{"messageStatus":"FAILED","resultCode":"3015","resendStatus":"RSC03","recipientGroupingKey":"job/2"},{"resultCode":"3005","recipientGroupingKey":"job/3"},{"messageStatus":"CANCEL","recipientGroupingKey":"job/4"}],"totalCount":4}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"messageSearchResultResponse":{"messages":[{"resultCode":"1000","recipientGroupingKey":"h-0123/0"},{"resultCode":"1000","recipientGroupingKey":"job/01"},{"resultCode":1000,"recipientGroupingKey":"/0"}],"totalCount":3}}`,
		`{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`,
		`null`, ``, `{"messageSearchResultResponse":{"messages":[{"receiveDate":"x"}]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseList(data)
		if err != nil {
			return
		}
		for i := range r.Messages {
			m := &r.Messages[i]
			rep, ok := updateReport(m)
			if !ok {
				continue
			}
			if RecipientGroupingKey(rep.JobID, rep.Index) != m.RecipientGroupingKey {
				t.Fatalf("report of %s/%d from key %q", rep.JobID, rep.Index, m.RecipientGroupingKey)
			}
			switch rep.State {
			case providers.ReportDelivered, providers.ReportFailed:
			case providers.ReportFallbackSent, providers.ReportFallbackFailed:
				if m.ResendStatus != resendDone && m.ResendStatus != resendFailed {
					t.Fatalf("%s after resend status %q", rep.State, m.ResendStatus)
				}
			default:
				t.Fatalf("state %q", rep.State)
			}
			cancel := strings.EqualFold(m.MessageStatus, statusCancel)
			switch {
			case cancel != rep.Canceled:
				t.Fatalf("report %+v of %+v: Canceled is not whether NHN listed it CANCEL", rep, m)
			case cancel && (rep.State != providers.ReportFailed || rep.Code != statusCancel):
				t.Fatalf("cancellation reported %s %q, want failed CANCEL", rep.State, rep.Code)
			case !cancel && (rep.Code == "" || rep.Code == "3005"):
				t.Fatalf("terminal report from %+v", m)
			}
		}
	})
}

// Keys decode back to the job and index they were made of; a hashed key,
// or one talkrelay did not make, does not decode.
func TestParseRecipientGroupingKey(t *testing.T) {
	for _, tc := range []struct {
		jobID string
		index int
	}{{"order-1", 0}, {"a.b:c@d=e", 12}, {"x/y", 3}} {
		key := RecipientGroupingKey(tc.jobID, tc.index)
		jobID, index, ok := ParseRecipientGroupingKey(key)
		plainKey := !strings.HasPrefix(key, "h-")
		if ok != plainKey || ok && (jobID != tc.jobID || index != tc.index) {
			t.Errorf("%q (from %s/%d): %q %d %v", key, tc.jobID, tc.index, jobID, index, ok)
		}
	}
	long := strings.Repeat("j", 120)
	if _, _, ok := ParseRecipientGroupingKey(RecipientGroupingKey(long, 1)); ok {
		t.Error("a hashed key decoded")
	}
	for _, key := range []string{"", "job", "job/", "/1", "job/-1", "job/01", "job/1x", "h-abc/1", "jo b/1"} {
		if _, _, ok := ParseRecipientGroupingKey(key); ok {
			t.Errorf("%q decoded", key)
		}
	}
}
