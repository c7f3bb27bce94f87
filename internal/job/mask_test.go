package job

import (
	"strings"
	"testing"
)

// maskPhoneByConcat is MaskPhone as it was first written, the reference
// of FuzzMaskPhone.
func maskPhoneByConcat(p string) string {
	if len(p) <= 7 {
		return strings.Repeat("*", len(p))
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

// FuzzMaskPhone: MaskPhone and MaskedPhone, built in one allocation, say
// what the first definitions did: MaskPhone by concatenation, MaskedPhone
// as MaskPhone of Digits.
func FuzzMaskPhone(f *testing.F) {
	for _, s := range []string{"", "0", "0101234", "01012345", "010-1234-5678", "01012345678", "-------", "--------", "0-1-2-3-4-5-6-7", "82-10-1234-5678-", "전화번호01012345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := MaskPhone(p), maskPhoneByConcat(p); got != want {
			t.Fatalf("MaskPhone(%q) = %q, want %q", p, got, want)
		}
		r := Recipient{Phone: p}
		if got, want := r.MaskedPhone(), maskPhoneByConcat(strings.ReplaceAll(p, "-", "")); got != want {
			t.Fatalf("MaskedPhone of %q = %q, want %q", p, got, want)
		}
	})
}

var maskSink string

// BenchmarkMaskedPhone masks the bench's phone numbers: single's have
// hyphens, campaign's none.
func BenchmarkMaskedPhone(b *testing.B) {
	rs := []Recipient{{Phone: "010-0004-2391"}, {Phone: "01000042391"}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		maskSink = rs[i%2].MaskedPhone()
	}
}

// Every result event carries a masked phone: masking one takes a single
// allocation, the string itself.
func TestMaskPhoneAllocatesOnce(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = MaskPhone("01012345678") }); n > 1 {
		t.Errorf("MaskPhone: %v allocations, want 1", n)
	}
}
