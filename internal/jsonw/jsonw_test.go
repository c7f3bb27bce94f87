package jsonw

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzAppendStringAgreesWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		"", "plain", "성공 주문번호: 12", "\"q\" \\ / \b\f\n\r\t \x00\x1f\x7f", "<a href='x'>&amp;</a>",
		"\u2028\u2029 \u2027\u202a", "\xff\xfe bad \xe2\x80", "\xe2\x80\xa8", "\xed\xa0\x80", "é\xc3",
		"\xe0\xa0\x80\xe0\x80\x80\xed\x9f\xbf\xef\xbf\xbf\xf0\x9f\x98\x80\xe1\x80",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := AppendStringNoHTML(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendStringNoHTML(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}

// BenchmarkAppendString writes a result's or a request's typical text.
func BenchmarkAppendString(b *testing.B) {
	s := "[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: 12345\n감사합니다."
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
