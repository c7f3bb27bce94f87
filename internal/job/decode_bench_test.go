package job

import (
	"encoding/json"
	"fmt"
	"testing"
)

// benchJobJSON is a valid AlimTalk job of n recipients, like the bench's.
func benchJobJSON(b *testing.B, n int) []byte {
	b.Helper()
	j := Job{Version: 1, ID: "bench-job-0000001", Account: "naver-bench", Kind: AlimTalk, Template: "ORDER_SHIPPED",
		Metadata: json.RawMessage(`{"source":"bench","bench_pub_ns":1762750800000000000}`)}
	for i := range n {
		j.Recipients = append(j.Recipients, Recipient{Ref: fmt.Sprintf("r%d", i), Phone: fmt.Sprintf("010-%04d-%04d", i/10000, i%10000),
			Content: "[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: " + fmt.Sprint(i),
			Buttons: []Button{{Type: "DS", Name: "배송 조회"}}})
	}
	data, err := json.Marshal(&j)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Decode(data); err != nil {
		b.Fatal(err)
	}
	return data
}

func benchmarkDecode(b *testing.B, n int) {
	data := benchJobJSON(b, n)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode1 decodes (schema validation, then json.Unmarshal) a
// one-recipient job, the single profile's unit of work.
func BenchmarkDecode1(b *testing.B) { benchmarkDecode(b, 1) }

// BenchmarkDecode1000 decodes a 1000-recipient job.
func BenchmarkDecode1000(b *testing.B) { benchmarkDecode(b, 1000) }
