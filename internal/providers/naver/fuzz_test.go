package naver

import (
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// FuzzParseResponse feeds the response parsers bodies shaped like NAVER's
// answers and checks they never panic and keep their promises.
func FuzzParseResponse(f *testing.F) {
	for _, seed := range []string{
		`{"requestId":"RQ-1","requestTime":"2026-11-30T19:00:00.000","statusCode":"202","statusName":"success","messages":[{"messageId":"M-0","countryCode":"82","to":"01012345678","content":"안녕하세요","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"success","useSmsFailover":false}]}`,
		`{"requestId":"RQ-2","statusCode":"202","statusName":"reserved","messages":[{"messageId":"M-0","requestStatusCode":"A000","requestStatusName":"success"},{"messageId":"M-1","requestStatusCode":"3008","requestStatusName":"fail","requestStatusDesc":"InvalidPhoneNumber","useSmsFailover":true}]}`,
		`{"requestId":"RQ-3","messages":[{"requestStatusCode":"B004"},{"requestStatusCode":"3005"},{"requestStatusCode":"9999","useSmsFailover":true},{"requestStatusCode":""},{"requestStatusCode":"ZZZZ","requestStatusName":"success"}]}`,
		`{"error":{"errorCode":"200","message":"Authentication Failed","details":"Invalid authentication information."}}`,
		`{"error":{"errorCode":"420","message":"Rate Limited"}}`,
		`{"status":400,"errors":["messages[0].to: must not be blank"],"errorMessage":"Bad Request"}`,
		`{"status":"500","error":"Internal Server Error","message":"boom"}`,
		`{"status":400,"errors":{"to":"bad"},"errorMessage":null}`,
		`{"messages":null}`, `{"messages":[null]}`, `[]`, `null`, ``, `<html>502</html>`, "\xff\xfe{",
	} {
		f.Add([]byte(seed), uint8(1))
		f.Add([]byte(seed), uint8(5))
	}
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		_ = parseErrorBody(body)
		r, err := parseSendResponse(body, int(n))
		if err != nil {
			if r != nil {
				t.Fatal("parseSendResponse returned a response with an error")
			}
			return
		}
		out, err := outcomes(r, int(n))
		if err != nil {
			if out != nil {
				t.Fatal("outcomes returned outcomes with an error")
			}
			return
		}
		if len(out) != int(n) {
			t.Fatalf("%d outcomes for %d messages", len(out), n)
		}
		for i, o := range out {
			switch o.Class {
			case providers.Accepted, providers.Retryable, providers.Permanent, providers.Unknown:
			default:
				t.Fatalf("outcome %d: class %d", i, o.Class)
			}
			if o.Class == providers.Accepted && o.Code != "A000" && o.Code != "0000" {
				t.Fatalf("outcome %d: accepted with code %q", i, o.Code)
			}
		}
	})
}

// FuzzParseQueryResponse feeds the request query parser bodies shaped like
// NAVER's list answers. It must never panic, and an answer it accepts must
// hold what Resolve relies on: a message list whose every entry has to and
// content, each classified into a real class, accepted only on A000/0000.
func FuzzParseQueryResponse(f *testing.F) {
	for _, seed := range []string{
		`{"requestId":"RQ-1","statusCode":"202","statusName":"success","messages":[{"requestTime":"2026-11-30T19:00:00.000","messageId":"M-0","countryCode":"82","to":"01012345678","content":"안녕하세요","plusFriendId":"@talkrelay","templateCode":"T","completeTime":"2026-11-30T19:00:01","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"success","messageStatusCode":"0000","messageStatusName":"success","messageStatusDesc":"성공","useSmsFailover":false}],"pageSize":100,"pageIndex":0,"itemCount":1,"hasMore":false}`,
		`{"statusCode":"202","statusName":"success","messages":[{"messageId":"M-1","to":"01012345678","content":"x","requestStatusCode":"3005","messageStatusCode":"0000"},{"messageId":"M-2","to":"010","content":"y","requestStatusCode":"9999","useSmsFailover":true}],"pageSize":2,"pageIndex":0,"itemCount":2,"hasMore":true}`,
		`{"messages":[{"to":"1","content":"c","requestStatusCode":"B004"},{"to":"2","content":"c","requestStatusCode":""},{"to":"3","content":"c","requestStatusCode":"ZZZZ","requestStatusName":"success"}],"hasMore":false}`,
		`{"messages":[],"hasMore":false}`, `{"messages":[],"hasMore":false,"itemCount":1}`,
		`{"messages":null,"hasMore":false}`, `{"messages":[null],"hasMore":false}`, `{"messages":[{"to":"1"}],"hasMore":false}`,
		`{"messages":[],"hasMore":"no"}`, `{"messages":[],"hasMore":false,"itemCount":"0"}`,
		`{"error":{"errorCode":"300","message":"Not Found Exception"}}`, `{}`, `[]`, `null`, ``, `<html>502</html>`, "\xff\xfe{",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseQueryResponse(body)
		if err != nil {
			if r != nil {
				t.Fatal("parseQueryResponse returned a response with an error")
			}
			return
		}
		if r.Messages == nil {
			t.Fatal("accepted an answer without a message list")
		}
		for i := range r.Messages {
			m := &r.Messages[i]
			if m.To == "" || m.Content == "" {
				t.Fatalf("entry %d accepted without to or content: %+v", i, m)
			}
			o := recordOutcome(m, "RQ")
			switch o.Class {
			case providers.Accepted, providers.Retryable, providers.Permanent, providers.Unknown:
			default:
				t.Fatalf("entry %d: class %d", i, o.Class)
			}
			if o.Class == providers.Accepted && o.Code != "A000" && o.Code != "0000" {
				t.Fatalf("entry %d: accepted with code %q", i, o.Code)
			}
		}
	})
}
