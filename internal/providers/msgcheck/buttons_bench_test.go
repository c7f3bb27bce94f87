package msgcheck

import (
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
)

var benchButtons = []job.Button{
	{Type: "WL", Name: "Open", URLMobile: "https://m.example.com/order", URLPC: "https://example.com/order"},
	{Type: "DS", Name: "Track"},
}

// BenchmarkButtons checks two valid buttons, as every recipient of a job
// with buttons is checked.
func BenchmarkButtons(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := Buttons("buttons", benchButtons, "DS WL AL BK MD AC", ButtonsMax); err != nil {
			b.Fatal(err)
		}
	}
}

// Valid buttons cost no allocations of their own beyond parsing the links
// (one each): the entries' field names are built for errors only.
func TestValidButtonsAllocateOnlyToParseLinks(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Buttons("buttons", benchButtons, "DS WL AL BK MD AC", ButtonsMax) }); n > 2 {
		t.Errorf("checking two valid buttons: %v allocations, want at most 2 (the links' url.Parse)", n)
	}
}
