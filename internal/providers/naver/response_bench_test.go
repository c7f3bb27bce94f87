package naver

import "testing"

// BenchmarkParseSendResponse100 reads NAVER's answer to a full request (100
// messages, each echoing its recipient and content) into outcomes.
func BenchmarkParseSendResponse100(b *testing.B) {
	body := answer100()
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
