package providers

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// ReadAnswer reads what io.ReadAll(io.LimitReader(r, max)) reads, its
// error included, buffer after buffer.
func TestReadAnswerReadsAsReadAll(t *testing.T) {
	broken := errors.New("connection reset")
	for _, tc := range []struct {
		name string
		r    func() io.Reader
		max  int64
	}{
		{"whole", func() io.Reader { return strings.NewReader(`{"a":1}`) }, 100},
		{"cut at max", func() io.Reader { return strings.NewReader(strings.Repeat("x", 5000)) }, 4096},
		{"empty", func() io.Reader { return strings.NewReader("") }, 100},
		{"broken off", func() io.Reader { return io.MultiReader(strings.NewReader("part"), iotest.ErrReader(broken)) }, 100},
	} {
		for range 2 { // the second time in a used buffer
			want, wantErr := io.ReadAll(io.LimitReader(tc.r(), tc.max))
			got, release, err := ReadAnswer(tc.r(), tc.max)
			if !bytes.Equal(got, want) || !errors.Is(err, wantErr) && err != wantErr {
				t.Errorf("%s: read %q, %v; io.ReadAll %q, %v", tc.name, got, err, want, wantErr)
			}
			release()
		}
	}
}

// BenchmarkReadAnswer reads an answer the size of NHN's to 1000
// recipients, as Send does for every request.
func BenchmarkReadAnswer(b *testing.B) {
	answer := bytes.Repeat([]byte(`{"recipientSeq":1,"recipientNo":"01012340001","resultCode":0,"resultMessage":"SUCCESS","recipientGroupingKey":"campaign-01/1"},`), 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(answer)))
	for b.Loop() {
		_, release, err := ReadAnswer(bytes.NewReader(answer), 4<<20)
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
}
