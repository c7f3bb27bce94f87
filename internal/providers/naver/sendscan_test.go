package naver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/jsonscan/jsonscantest"
)

// answer100 is NAVER's answer to a full request: 100 messages, each
// echoing its recipient and content.
func answer100() []byte {
	var sb strings.Builder
	sb.WriteString(`{"requestId":"RQ-1","requestTime":"2026-11-30T19:00:00.000","statusCode":"202","statusName":"success","messages":[`)
	for i := range MaxBatch {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"messageId":"M-%d","countryCode":"82","to":"0101234%04d","content":"[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: %d\n감사합니다.","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"성공","useSmsFailover":false}`, i, i, i)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// The answers NAVER gives are read by the scanner, not handed to
// encoding/json, and read as encoding/json reads them.
func TestScanSendResponseReadsNaverAnswers(t *testing.T) {
	for name, body := range map[string][]byte{
		"full request": answer100(),
		"reserved, partly failed": []byte(`{"requestId":"RQ-2","requestTime":"2026-11-30T19:00:00.000","statusCode":"202","statusName":"reserved","messages":[` +
			`{"messageId":"M-0","countryCode":"82","to":"01012345678","content":"a \u003cb\u003e \"c\"\t\\d","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"success","useSmsFailover":false},` +
			`{"messageId":"M-1","countryCode":"82","to":"01000000000","content":"x","requestStatusCode":"3008","requestStatusName":"fail","requestStatusDesc":"InvalidPhoneNumber","useSmsFailover":true}]}`),
		"sorted keys, as the fake writes them": []byte(`{"messages":[{"content":"c","countryCode":"82","messageId":"MSG-1-0","requestStatusCode":"A000","requestStatusDesc":"success","requestStatusName":"success","to":"010","useSmsFailover":false}],"requestId":"RQ-1","requestTime":"2026-11-30T19:00:00.000","statusCode":"202","statusName":"success"}`),
		"indented, nulls, extra members":       []byte("{\n  \"requestId\" : \"RQ-3\",\n  \"extra\": {\"a\": [1, -2.5e3, true, null]},\n  \"messages\": [ null, {\"messageId\": null, \"requestStatusCode\": \"A000\", \"useSmsFailover\": null} ]\n}\n"),
		"no messages":                          []byte(`{"requestId":"RQ-4","messages":[]}`),
		"null messages":                        []byte(`{"requestId":"RQ-5","messages":null}`),
	} {
		got, ok := scanSendResponse(body, MaxBatch)
		if !ok {
			t.Errorf("%s: not read by the scanner", name)
			continue
		}
		jsonscantest.AgreesWithEncodingJSON(t, body, got)
	}
}

// What the scanner does not read exactly as encoding/json would, it
// leaves to encoding/json.
func TestScanSendResponseLeavesTheRestToEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{"RequestId":"RQ-1","messages":[]}`,                  // a case variant: encoding/json matches it
		`{"requestId":"a","requestId":"b"}`,                   // a duplicate
		`{"messages":[{"requestStatusDesc":"\uc131\uacf5"}]}`, // an escape in a value read
		"{\"requestId\":\"\xff\"}",                            // invalid UTF-8 in a value read
		`{"requestId":1}`, `{"messages":[1]}`, `{"messages":[{"useSmsFailover":"yes"}]}`,
		`{"requéstId":"x"}`, `null`, `[]`, `{"requestId":"RQ-1"} x`, `{"a":"\x"}`,
	} {
		if r, ok := scanSendResponse([]byte(body), 1); ok {
			t.Errorf("scanner read %q as %+v", body, *r)
		}
	}
}

func TestScanSendResponseAllocatesPerAnswerNotPerMessage(t *testing.T) {
	body := answer100()
	// The response, its messages, their strings' places, the strings.
	if n := testing.AllocsPerRun(20, func() { scanSendResponse(body, MaxBatch) }); n > 5 {
		t.Fatalf("%v allocations for 100 messages", n)
	}
}

// Whatever the scanner reads, encoding/json reads the same from the body.
func FuzzScanSendResponseAgreesWithEncodingJSON(f *testing.F) {
	f.Add(answer100())
	for _, seed := range []string{
		`{"requestId":"RQ-1","messages":[{"messageId":"M-0","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"성공","useSmsFailover":false}]}`,
		`{"requestId":"RQ-1","x":{"y":["\u00e9\n",-0.5E+2,{}]},"messages":[null,{"to":"010","content":"\"<&>\""}]}`,
		`{"request_id":"RQ-1","Messages":[]}`, `{"messages":[{"messageId":"a","messageId":"b"}]}`,
		`{"requestId":null,"messages":null}`, ` {} `, `{"messages":[{"useSmsFailover":true}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, ok := scanSendResponse(body, 3); ok {
			jsonscantest.AgreesWithEncodingJSON(t, body, got)
		}
	})
}

// An answer is read into a buffer the next answer reuses
// (providers.ReadAnswer): outcomes, error bodies included, must hold
// copies of what they keep, whichever parser read it.
func TestOutcomesOutliveTheAnswerBuffer(t *testing.T) {
	for _, body := range [][]byte{
		answer100(), // the scanner
		[]byte(`{"requestId":"RQ-9","messages":[{"messageId":"M-0","requestStatusCode":"3008","requestStatusDesc":"\uc2e4\ud328"}]}`), // json v2
	} {
		r, err := parseSendResponse(body, MaxBatch)
		if err != nil {
			t.Fatal(err)
		}
		out, err := outcomes(r, len(r.Messages))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%+v", out)
		overwrite(body)
		if got := fmt.Sprintf("%+v", out); got != want {
			t.Fatalf("outcomes changed with the buffer:\n%s\nwere\n%s", got, want)
		}
	}
	body := []byte(`{"error":{"errorCode":"200","message":"Authentication Failed","details":"Invalid authentication information."}}`)
	e := parseErrorBody(body)
	want := fmt.Sprintf("%+v", e)
	overwrite(body)
	if got := fmt.Sprintf("%+v", e); got != want {
		t.Fatalf("error body changed with the buffer: %s, was %s", got, want)
	}
}

func overwrite(b []byte) {
	for i := range b {
		b[i] = '#'
	}
}
