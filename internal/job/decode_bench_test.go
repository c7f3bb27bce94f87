package job

import (
	"encoding/json"
	"fmt"
	"testing"
)

// benchJobJSON is valid AlimTalk job k of n recipients, like the bench's:
// every job's id, refs, phones and contents are its own.
func benchJobJSON(b *testing.B, k, n int) []byte {
	b.Helper()
	j := Job{Version: 1, ID: fmt.Sprintf("bench-job-%07d", k), Account: "naver-bench", Kind: AlimTalk, Template: "ORDER_SHIPPED",
		Metadata: json.RawMessage(fmt.Sprintf(`{"source":"bench","bench_pub_ns":%d}`, 1762750800000000000+k))}
	for i := range n {
		i += k * n
		j.Recipients = append(j.Recipients, Recipient{Ref: fmt.Sprintf("r%d", i), Phone: fmt.Sprintf("010-%04d-%04d", i/10000%10000, i%10000),
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

// benchmarkDecode decodes jobs of n recipients, a different one each
// time (json v2 keeps a cache of the strings it decoded last).
func benchmarkDecode(b *testing.B, n int) {
	jobs := make([][]byte, 256)
	for k := range jobs {
		jobs[k] = benchJobJSON(b, k, n)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(jobs[0])))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := Decode(jobs[i%len(jobs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode1 decodes a one-recipient job, the single profile's unit
// of work.
func BenchmarkDecode1(b *testing.B) { benchmarkDecode(b, 1) }

// BenchmarkDecode1000 decodes a 1000-recipient job.
func BenchmarkDecode1000(b *testing.B) { benchmarkDecode(b, 1000) }
