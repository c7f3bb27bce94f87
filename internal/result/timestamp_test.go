package result

import (
	"testing"
	"time"
)

// appendTime writes what AppendFormat(time.RFC3339Nano) writes, whatever
// the second, fraction and zone, and whichever second it formatted last.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1764496800), int64(123456789), 0, int64(1764496800))
	f.Add(int64(1764496800), int64(0), 9*3600, int64(1764496799))
	f.Add(int64(-62135596801), int64(100), -3600-59, int64(0))
	f.Add(int64(253402300800), int64(5), 30*60, int64(253402300800))
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int, before int64) {
		loc := time.UTC
		if offset != 0 {
			loc = time.FixedZone("Z", offset%(24*3600))
		}
		var c stampCache
		for _, tm := range []time.Time{time.Unix(before, nsec).In(loc), time.Unix(sec, nsec).In(loc), time.Unix(sec, nsec).In(time.Local)} {
			want := tm.AppendFormat([]byte("x"), time.RFC3339Nano)
			if got := c.appendTime([]byte("x"), tm); string(got) != string(want) {
				t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
			}
		}
	})
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	buf := make([]byte, 0, 64)
	var c stampCache
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tm.AppendFormat(buf[:0], time.RFC3339Nano)
		}
	})
	b.Run("appendTime", func(b *testing.B) {
		for b.Loop() {
			buf = c.appendTime(buf[:0], tm)
		}
	})
}
