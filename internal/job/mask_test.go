package job

import "testing"

// Every result event carries a masked phone: masking one takes a single
// allocation, the string itself.
func TestMaskPhoneAllocatesOnce(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = MaskPhone("01012345678") }); n > 1 {
		t.Errorf("MaskPhone: %v allocations, want 1", n)
	}
}

func BenchmarkMaskPhone(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = MaskPhone("01012345678")
	}
}
