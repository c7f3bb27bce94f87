package nhn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/jsonscan/jsonscantest"
)

// answer1000 is NHN's answer to a full request: 1000 recipients.
func answer1000() []byte {
	var sb strings.Builder
	sb.WriteString(`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"20261130-abc","senderGroupingKey":"batch-1","sendResults":[`)
	for i := range MaxRecipients {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"recipientSeq":%d,"recipientNo":"0101234%04d","resultCode":0,"resultMessage":"SUCCESS","recipientGroupingKey":"campaign-01/%d"}`, i+1, i, i)
	}
	sb.WriteString(`]}}`)
	return []byte(sb.String())
}

// The answers NHN gives are read by the scanner, not handed to
// encoding/json, and read as encoding/json reads them.
func TestScanResponseReadsNHNAnswers(t *testing.T) {
	for name, body := range map[string][]byte{
		"full request": answer1000(),
		"partial failure": []byte(`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"r","senderGroupingKey":"b","sendResults":[` +
			`{"recipientSeq":1,"recipientNo":"01000000000","resultCode":0,"resultMessage":"SUCCESS","recipientGroupingKey":"job/0"},` +
			`{"recipientSeq":2,"recipientNo":"01000000001","resultCode":-2018,"resultMessage":"수신자 번호 오류","recipientGroupingKey":"job/1"}]}}`),
		"failed header, no message": []byte(`{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`),
		"null message":              []byte(`{"header":{"resultCode":0,"isSuccessful":true},"message":null}`),
		"null header":               []byte(`{"header":null}`),
		"indented, nulls, extras": []byte("{\n \"header\": {\"resultCode\": -1031, \"resultMessage\": null, \"isSuccessful\": false, \"x\": [1.5, {\"y\": \"\\n\"}]},\n" +
			" \"message\": {\"requestId\": null, \"sendResults\": [null, {\"recipientSeq\": 2, \"resultCode\": null}]}\n}\n"),
	} {
		got, ok := scanResponse(body, 2)
		if !ok {
			t.Errorf("%s: not read by the scanner", name)
			continue
		}
		jsonscantest.AgreesWithEncodingJSON(t, body, got)
	}
}

// What the scanner does not read exactly as encoding/json would, it
// leaves to encoding/json.
func TestScanResponseLeavesTheRestToEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{"HEADER":{"resultCode":0}}`, `{"header":{"resultcode":0}}`, // case variants: encoding/json matches them
		`{"header":{"resultCode":0},"header":{"resultCode":1}}`, // a duplicate
		`{"header":{"resultCode":"0"}}`, `{"header":{"resultCode":1.5}}`, `{"header":{"resultCode":1e3}}`,
		`{"header":{"resultCode":99999999999999999999}}`, `{"header":{"isSuccessful":1}}`,
		`{"header":{"resultMessage":"\u0041"}}`, "{\"header\":{\"resultMessage\":\"\xff\"}}",
		`{"message":{"sendResults":{}}}`, `null`, `[]`, `{"header":{}} {}`,
	} {
		if r, ok := scanResponse([]byte(body), 1); ok {
			t.Errorf("scanner read %q as %+v", body, *r)
		}
	}
}

func TestScanResponseAllocatesPerAnswerNotPerRecipient(t *testing.T) {
	body := answer1000()
	// The scanner, the answer, its header and message, the results, their
	// strings' places, the arena and its string.
	if n := testing.AllocsPerRun(10, func() { scanResponse(body, MaxRecipients) }); n > 8 {
		t.Fatalf("%v allocations for 1000 recipients", n)
	}
}

// Whatever the scanner reads, encoding/json reads the same from the body.
func FuzzScanResponseAgreesWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"r","senderGroupingKey":"b","sendResults":[{"recipientSeq":1,"recipientNo":"01000000000","resultCode":0,"resultMessage":"SUCCESS","recipientGroupingKey":"job/0"},{"recipientSeq":2,"recipientNo":"01000000001","resultCode":-2018,"resultMessage":"x","recipientGroupingKey":"job/1"}]}}`,
		`{"header":{"resultCode":-1031,"isSuccessful":false},"message":{"sendResults":[{"recipientSeq":2,"resultCode":-9999},null]}}`,
		`{"header":{"result_code":-1,"is-successful":true},"message":{"request_id":"r","x":[{"a":"\"\\u00e9"},-0,1E+2]}}`,
		`{"header":null,"message":null}`, ` {} `, `{"header":{"resultCode":-0}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, ok := scanResponse(body, 2); ok {
			jsonscantest.AgreesWithEncodingJSON(t, body, got)
		}
	})
}

// An answer is read into a buffer the next answer reuses
// (providers.ReadAnswer): outcomes must hold copies of what they keep,
// whichever parser read it.
func TestOutcomesOutliveTheAnswerBuffer(t *testing.T) {
	sent := []sentRecipient{{"01000000000", "job/0"}}
	for _, body := range []string{
		`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"r-1","sendResults":[{"recipientSeq":1,"recipientNo":"01000000000","resultCode":-2018,"resultMessage":"invalid","recipientGroupingKey":"job/0"}]}}`,
		`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"r-\u0031","sendResults":[{"recipientSeq":1,"resultCode":-2018,"resultMessage":"\uc624\ub958","recipientGroupingKey":"job/0"}]}}`, // json v2
	} {
		buf := []byte(body)
		r, err := parseResponse(buf, len(sent))
		if err != nil {
			t.Fatal(err)
		}
		out, err := outcomes(r, sent)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%+v", out)
		for i := range buf {
			buf[i] = '#'
		}
		if got := fmt.Sprintf("%+v", out); got != want {
			t.Fatalf("outcomes changed with the buffer:\n%s\nwere\n%s", got, want)
		}
	}
}
