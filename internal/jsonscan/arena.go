package jsonscan

// Arena gathers the strings read from one answer so that a single
// allocation holds them all, instead of one each: Add copies a value and
// returns its place, String makes the string the places are cut from.
// Only what is kept is copied (never the whole body: a message id kept for
// hours must not hold the answer it came in).
type Arena struct{ buf []byte }

// MakeArena returns an arena with room for size bytes.
func MakeArena(size int) Arena { return Arena{buf: make([]byte, 0, size)} }

// Ref is a string's place in its arena's String.
type Ref struct{ start, end int32 }

// Add copies v into the arena, unless it equals the value at prev (the
// same field's value in the previous entry, typically): then prev is
// returned and nothing is copied.
func (a *Arena) Add(v []byte, prev Ref) Ref {
	if string(a.buf[prev.start:prev.end]) == string(v) {
		return prev
	}
	start := len(a.buf)
	a.buf = append(a.buf, v...)
	return Ref{start: int32(start), end: int32(len(a.buf))}
}

// String returns every value added, as one string.
func (a *Arena) String() string { return string(a.buf) }

// In cuts r's value from s, its arena's String.
func (r Ref) In(s string) string { return s[r.start:r.end] }

// ReadString reads a string into a; prev is as for Arena.Add.
func (s *Scanner) ReadString(a *Arena, prev Ref) (Ref, bool) {
	v, ok := s.String()
	if !ok {
		return Ref{}, false
	}
	return a.Add(v, prev), true
}
