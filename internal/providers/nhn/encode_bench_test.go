package nhn

import (
	"context"
	"fmt"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// BenchmarkNewRequest1000 builds a full NHN AlimTalk request (raw
// content): 1000 recipients, body encoding, grouping and idempotency keys.
func BenchmarkNewRequest1000(b *testing.B) {
	c, err := New(providers.Spec{Account: "a", BaseURL: "http://127.0.0.1:1",
		Credentials:   map[string]string{SecretKeyCredential: "sk"},
		DecodeOptions: func(into any) error { into.(*Config).AppKey = "benchAppKey"; return nil }})
	if err != nil {
		b.Fatal(err)
	}
	client := c.(*Client)
	const senderKey = "0123456789abcdef0123456789abcdef01234567"
	j := &job.Job{ID: "campaign-01", Account: "a", Kind: job.AlimTalk, Sender: senderKey, Template: "PROMO"}
	for i := range MaxRecipients {
		j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("c%d", i), Phone: fmt.Sprintf("0101234%04d", i),
			Content: fmt.Sprintf("[Talkrelay] 11월 회원 쿠폰 C%08d 도착", i)})
	}
	batch := &providers.Batch{ID: "bench-batch", Key: providers.KeyOf(j, &j.Recipients[0], "")}
	for i := range j.Recipients {
		batch.Messages = append(batch.Messages, providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := client.newRequest(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
