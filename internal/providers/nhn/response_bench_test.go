package nhn

import (
	"fmt"
	"testing"
)

// BenchmarkParseResponse1000 reads NHN's answer to a full request (1000
// recipients) into outcomes.
func BenchmarkParseResponse1000(b *testing.B) {
	body := answer1000()
	sent := make([]sentRecipient, MaxRecipients)
	for i := range sent {
		sent[i] = sentRecipient{no: fmt.Sprintf("0101234%04d", i), groupingKey: fmt.Sprintf("campaign-01/%d", i)}
	}
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
