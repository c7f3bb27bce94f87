package nhn

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// FuzzParseResponse feeds arbitrary answers to the parser and the mapping
// to messages: no panic, and either a *providers.Error or exactly one
// outcome per sent recipient, each of a known class.
func FuzzParseResponse(f *testing.F) {
	for _, seed := range []string{
		`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"r","senderGroupingKey":"b","sendResults":[{"recipientSeq":1,"recipientNo":"01000000000","resultCode":0,"resultMessage":"SUCCESS","recipientGroupingKey":"job/0"},{"recipientSeq":2,"recipientNo":"01000000001","resultCode":-2018,"resultMessage":"x","recipientGroupingKey":"job/1"}]}}`,
		`{"header":{"resultCode":-1031,"isSuccessful":false},"message":{"sendResults":[{"recipientSeq":2,"resultCode":-9999},{"recipientSeq":1,"resultCode":-1005}]}}`,
		`{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`,
		// Brand Message API v1.0: results without grouping keys, by recipientSeq.
		`{"header":{"resultCode":0,"resultMessage":"success","isSuccessful":true},"message":{"requestId":"r","sendResults":[{"recipientSeq":2,"recipientNo":"01000000001","resultCode":0,"resultMessage":"success"},{"recipientSeq":1,"recipientNo":"01000000000","resultCode":-3015,"resultMessage":"x"}]}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"message":null}`,
		`{"header":null}`, `null`, `[]`, ``, `{"header":{"resultCode":1e3}}`, `{"header":{"resultCode":99999999999999999999}}`,
	} {
		f.Add([]byte(seed))
	}
	sent := []sentRecipient{{"01000000000", "job/0"}, {"01000000001", "job/1"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseResponse(data, 2)
		if err != nil {
			if r != nil {
				t.Fatal("parseResponse returned an answer with an error")
			}
			return
		}
		if r.Header == nil {
			t.Fatal("parseResponse accepted an answer without header")
		}
		out, err := outcomes(r, sent)
		if err != nil {
			pe, ok := err.(*providers.Error)
			if !ok || pe.Class < providers.Retryable || pe.Class > providers.Unknown {
				t.Fatalf("outcomes error %v is not a classified *providers.Error", err)
			}
			if out != nil {
				t.Fatal("outcomes returned outcomes with an error")
			}
			return
		}
		if len(out) != len(sent) {
			t.Fatalf("%d outcomes for %d recipients", len(out), len(sent))
		}
		for i, o := range out {
			if o.Class < providers.Accepted || o.Class > providers.Unknown {
				t.Fatalf("outcome %d has class %v", i, o.Class)
			}
		}
	})
}

// FuzzParseList feeds arbitrary list answers to the parser and the
// decision: no panic; an error or a listing, never both; and from a
// listing, an outcome of a known class that is Accepted whenever a record
// of the key says the message went out, and never Retryable before
// DefaultNotFoundAfter.
func FuzzParseList(f *testing.F) {
	for _, seed := range []string{
		`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"messageSearchResultResponse":{"messages":[{"requestId":"r1","recipientSeq":1,"plusFriendId":"@p","recipientNo":"01000000000","requestDate":"2026-06-20 12:00","createDate":"2026-06-20 12:00:01","content":"c","messageStatus":"COMPLETED","resendStatus":"RSC01","resendStatusName":"n","resultCode":"1000","resultCodeName":"성공","createUser":"","senderGroupingKey":"b","recipientGroupingKey":"job/0"}],"pageNum":1,"pageSize":1000,"totalCount":1}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"messageSearchResultResponse":{"messages":[{"requestId":"r1","recipientSeq":1,"messageStatus":"FAILED","resultCode":"3012","resendStatus":"RSC05","recipientGroupingKey":"job/0"},{"requestId":"r2","recipientSeq":1,"messageStatus":"FAILED","resultCode":-9999,"recipientGroupingKey":"job/0"}],"totalCount":2}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"messageSearchResultResponse":{"messages":[{"requestId":"r1","recipientGroupingKey":""}],"totalCount":1}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"messageSearchResultResponse":{"messages":[],"totalCount":0}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"messageSearchResultResponse":{"messages":null,"totalCount":-1}}`,
		`{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`,
		`{"header":{"resultCode":0,"isSuccessful":true}}`,
		`{"header":{"resultCode":0,"isSuccessful":true},"messageSearchResultResponse":{"messages":[{"resultCode":1e400}]}}`,
		`{"header":null}`, `null`, `[]`, ``, `{"messageSearchResultResponse":{}}`,
	} {
		f.Add([]byte(seed))
	}
	const key = "job/0"
	now := time.Date(2026, 6, 20, 12, 5, 0, 0, time.UTC)
	lq := listQuery{key: key, start: "2026-06-20 11:50", end: "2026-06-20 12:15"}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseList(data)
		if err != nil {
			if r != nil {
				t.Fatal("parseList returned a listing with an error")
			}
			return
		}
		if r == nil || r.TotalCount < 0 {
			t.Fatalf("parseList accepted %+v", r)
		}
		sentOut := false
		for i := range r.Messages {
			if m := &r.Messages[i]; m.RecipientGroupingKey == key && recordOutcome(m).Class == providers.Accepted {
				sentOut = true
			}
		}
		for _, ago := range []time.Duration{0, DefaultNotFoundAfter, 0 - time.Hour} {
			q := providers.Query{SentAt: now.Add(-ago), Last: providers.Outcome{Class: providers.Unknown, RequestID: "r2"}}
			o := decide(&q, lq, r.Messages, now, DefaultNotFoundAfter)
			if o.Class < providers.Accepted || o.Class > providers.Unknown {
				t.Fatalf("outcome of class %v", o.Class)
			}
			if sentOut && o.Class != providers.Accepted {
				t.Fatalf("a record says the message went out, outcome %+v", o)
			}
			if ago < DefaultNotFoundAfter && o.Class == providers.Retryable {
				t.Fatalf("retryable %s after the send: %+v", ago, o)
			}
		}
	})
}
