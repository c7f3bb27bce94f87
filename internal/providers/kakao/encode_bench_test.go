package kakao

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// BenchmarkBuildRequest1 builds and encodes one Kakao send body (the API
// takes one recipient a request), as Send does.
func BenchmarkBuildRequest1(b *testing.B) {
	c, err := NewClient(providers.Spec{Account: "a", BaseURL: "http://127.0.0.1:1",
		Credentials: map[string]string{"client_id": "id", "client_secret": "secret"},
		DecodeOptions: func(into any) error {
			into.(*Config).SenderNo = "0212345678"
			return nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	const senderKey = "0123456789abcdef0123456789abcdef01234567"
	j := &job.Job{ID: "latency-0000001", Account: "a", Kind: job.AlimTalk, Sender: senderKey, Template: "ORDER_SHIPPED",
		Recipients: []job.Recipient{{Ref: "r1", Phone: "010-1234-5678", Content: "[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: 1",
			Buttons: []job.Button{{Type: "DS", Name: "배송 조회"}}}}}
	m := &providers.Message{Job: j, Recipient: &j.Recipients[0], Attempt: 1}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		req, err := c.buildRequest(m, senderKey)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(req); err != nil {
			b.Fatal(err)
		}
	}
}
