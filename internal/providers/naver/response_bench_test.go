package naver

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseSendResponse100 reads NAVER's answer to a full request (100
// messages, each echoing its recipient and content) into outcomes.
func BenchmarkParseSendResponse100(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"requestId":"RQ-1","requestTime":"2026-11-30T19:00:00.000","statusCode":"202","statusName":"success","messages":[`)
	for i := range MaxBatch {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"messageId":"M-%d","countryCode":"82","to":"0101234%04d","content":"[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: %d\n감사합니다.","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"성공","useSmsFailover":false}`, i, i, i)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r, err := parseSendResponse(body, MaxBatch)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := outcomes(r, MaxBatch); err != nil {
			b.Fatal(err)
		}
	}
}
