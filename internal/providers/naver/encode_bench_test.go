package naver

import (
	"fmt"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// BenchmarkBuildRequest100 encodes a full NAVER request: 100 messages.
func BenchmarkBuildRequest100(b *testing.B) {
	c := benchClient(b)
	batch := &providers.Batch{ID: "bench", Key: providers.Key{Account: "a", Kind: job.AlimTalk, Sender: "@bench", Template: "ORDER_SHIPPED"}}
	for i := range MaxBatch {
		j := &job.Job{ID: fmt.Sprintf("job-%d", i), Account: "a", Kind: job.AlimTalk, Template: "ORDER_SHIPPED",
			Recipients: []job.Recipient{{Phone: fmt.Sprintf("010-1234-%04d", i), Content: "[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: " + fmt.Sprint(i),
				Buttons: []job.Button{{Type: "DS", Name: "배송 조회"}}}}}
		batch.Messages = append(batch.Messages, providers.Message{Job: j, Recipient: &j.Recipients[0], Attempt: 1})
	}
	b.ReportAllocs()
	for b.Loop() {
		c.buildRequest(batch)
	}
}

// benchClient is a client for benchmarks, which never reach its URL.
func benchClient(b *testing.B) *Client {
	cfg := DefaultConfig()
	cfg.ServiceID = "ncp:kkobizmsg:kr:123456789012:bench"
	c, err := NewClient(cfg, "http://127.0.0.1:1", "ak", "sk", nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}
