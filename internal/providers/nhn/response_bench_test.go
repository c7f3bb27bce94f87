package nhn

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseResponse1000 reads NHN's answer to a full request (1000
// recipients) into outcomes.
func BenchmarkParseResponse1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"20261130-abc","senderGroupingKey":"batch-1","sendResults":[`)
	sent := make([]sentRecipient, MaxRecipients)
	for i := range sent {
		if i > 0 {
			sb.WriteByte(',')
		}
		sent[i] = sentRecipient{no: fmt.Sprintf("0101234%04d", i), groupingKey: fmt.Sprintf("campaign-01/%d", i)}
		fmt.Fprintf(&sb, `{"recipientSeq":%d,"recipientNo":"%s","resultCode":0,"resultMessage":"SUCCESS","recipientGroupingKey":"%s"}`,
			i+1, sent[i].no, sent[i].groupingKey)
	}
	sb.WriteString(`]}}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r, err := parseResponse(body, MaxRecipients)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := outcomes(r, sent); err != nil {
			b.Fatal(err)
		}
	}
}
