package naver

import (
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// BenchmarkCheck checks one recipient of the bench's single profile: a
// Korean text and a delivery-tracking button.
func BenchmarkCheck(b *testing.B) {
	c := benchClient(b)
	j := &job.Job{ID: "job-1", Account: "a", Kind: job.AlimTalk, Template: "ORDER_SHIPPED",
		Recipients: []job.Recipient{{Phone: "010-1234-5678", Content: "[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: 12345",
			Buttons: []job.Button{{Type: "DS", Name: "배송 조회"}}}}}
	m := &providers.Message{Job: j, Recipient: &j.Recipients[0], Attempt: 1}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(m); err != nil {
			b.Fatal(err)
		}
	}
}
