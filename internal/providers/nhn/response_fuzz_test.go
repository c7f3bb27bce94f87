package nhn

import (
	"encoding/json"
	"reflect"
	"testing"
)

// parseResponse decodes with json v2 first and falls back to
// encoding/json; whatever the body, it must read what encoding/json alone
// reads (case-insensitive names, underscores and dashes not ignored,
// invalid UTF-8 and duplicate names tolerated) and fail where it fails.
func FuzzResponseAgreesWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"r","senderGroupingKey":"b","sendResults":[{"recipientSeq":1,"recipientNo":"01000000000","resultCode":0,"resultMessage":"SUCCESS","recipientGroupingKey":"job/0"}]}}`,
		`{"HEADER":{"resultcode":-1001,"isSuccessful":false},"Message":{"SendResults":[{"recipientSEQ":1}]}}`,
		`{"header":{"result_code":-1001,"is-successful":true},"message":{"request_id":"r"}}`,
		`{"header":{"resultCode":0},"header":{"resultCode":1}}`,
		"{\"header\":{\"resultMessage\":\"\xff\"},\"message\":{\"sendResults\":[{\"resultMessage\":\"\xfe\"}]}}",
		`{"header":{"resultCode":"0"}}`, `{"header":{"resultCode":1.5}}`, `{"header":{"isSuccessful":1}}`,
		`{"header":null}`, `{"message":null}`, `null`, `[]`, `1`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseResponse(body, 1)
		var want sendResponse
		wantErr := json.Unmarshal(body, &want)
		switch {
		case len(body) == 0:
			wantErr = errEmptyAnswer
		case wantErr == nil && want.Header == nil:
			wantErr = errNoHeader
		}
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("parseResponse error %v, encoding/json error %v", err, wantErr)
		case err == nil && !reflect.DeepEqual(*got, want):
			t.Fatalf("parseResponse read %+v, encoding/json %+v", *got, want)
		}
	})
}
