package naver

import (
	"encoding/json"
	"reflect"
	"testing"
)

// parseSendResponse decodes with the faster json v2 first and falls back
// to encoding/json; whatever the body, it must read what encoding/json
// alone reads (case-insensitive names, invalid UTF-8 and duplicate names
// tolerated) and fail where it fails.
func FuzzSendResponseAgreesWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`{"requestId":"RQ-1","messages":[{"messageId":"M-0","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"성공","useSmsFailover":false}]}`,
		`{"RequestId":"RQ-1","MESSAGES":[{"messageid":"M-0","requestStatusCode":"3008"}]}`,
		`{"requestId":"a","requestId":"b","messages":[]}`,
		"{\"requestId\":\"\xff\",\"messages\":[{\"requestStatusDesc\":\"\xfe\"}]}",
		`{"messages":[{"useSmsFailover":"yes"}]}`, `{"request_id":"RQ-1","messages":[{"message-id":"M-0"}]}`, `{"messages":null}`, `[]`, `null`, `1`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseSendResponse(body, 1)
		var want sendResponse
		wantErr := json.Unmarshal(body, &want)
		if len(body) == 0 {
			wantErr = errEmptyBody
		}
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("parseSendResponse error %v, encoding/json error %v", err, wantErr)
		case err == nil && !reflect.DeepEqual(*got, want):
			t.Fatalf("parseSendResponse read %+v, encoding/json %+v", *got, want)
		}
	})
}
