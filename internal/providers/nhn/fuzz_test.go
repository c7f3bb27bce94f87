package nhn

import (
	"testing"

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
		`{"header":{"resultCode":0,"isSuccessful":true},"message":null}`,
		`{"header":null}`, `null`, `[]`, ``, `{"header":{"resultCode":1e3}}`, `{"header":{"resultCode":99999999999999999999}}`,
	} {
		f.Add([]byte(seed))
	}
	sent := []sentRecipient{{"01000000000", "job/0"}, {"01000000001", "job/1"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseResponse(data)
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
