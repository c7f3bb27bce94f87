package job

import (
	"bytes"
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
	decodeInTurn(b, jobs)
}

// decodeInTurn decodes jobs in turn, as many as b asks.
func decodeInTurn(b *testing.B, jobs [][]byte) {
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

// benchProfileJob is job i of the bench's single (n == 1: NAVER, a button)
// or campaign (NHN, a sender key) profile, byte for byte as
// internal/bench's workload writes it.
func benchProfileJob(i, n int) []byte {
	var b bytes.Buffer
	id := fmt.Sprintf("single-%07d", i)
	account, sender := "naver-bench", ""
	if n > 1 {
		id, account, sender = fmt.Sprintf("campaign-%07d", i), "nhn-bench", "0123456789abcdef0123456789abcdef01234567"
	}
	fmt.Fprintf(&b, `{"version":1,"id":"%s","account":"%s","kind":"alimtalk"`, id, account)
	if sender != "" {
		fmt.Fprintf(&b, `,"sender":"%s"`, sender)
	}
	fmt.Fprintf(&b, `,"template":"ORDER_SHIPPED","metadata":{"source":"bench","bench_pub_ns":%d},"recipients":[`, 1764496800000000000+int64(i))
	for k := range n {
		if k > 0 {
			b.WriteByte(',')
		}
		r := i*n + k
		if n == 1 {
			fmt.Fprintf(&b, `{"ref":"r%d","phone":"010-%04d-%04d","content":"[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: %s","buttons":[{"type":"DS","name":"배송 조회"}]}`,
				r, (r/10000)%10000, r%10000, id)
		} else {
			fmt.Fprintf(&b, `{"ref":"c%d","phone":"010%04d%04d","content":"[Talkrelay] 11월 회원 쿠폰 C%08d 도착"}`,
				r, (r/10000)%10000, r%10000, r)
		}
	}
	b.WriteString("]}")
	return b.Bytes()
}

// benchmarkDecodeProfile decodes the bench profile's jobs of n recipients,
// a different one each time.
func benchmarkDecodeProfile(b *testing.B, n, count int) {
	jobs := make([][]byte, count)
	for k := range jobs {
		jobs[k] = benchProfileJob(k, n)
		if _, ok := scanJob(jobs[k]); !ok {
			b.Fatalf("scanJob leaves the bench's job to json v2:\n%s", jobs[k])
		}
	}
	decodeInTurn(b, jobs)
}

// BenchmarkDecodeSingle decodes the single profile's one-recipient jobs.
func BenchmarkDecodeSingle(b *testing.B) { benchmarkDecodeProfile(b, 1, 256) }

// BenchmarkDecodeCampaign decodes the campaign profile's 50,000-recipient
// jobs.
func BenchmarkDecodeCampaign(b *testing.B) { benchmarkDecodeProfile(b, 50_000, 2) }
