// Package jsonscan reads the few JSON answers talkrelay decodes for every
// provider request (the send answers of NAVER and NHN) without reflection
// and with a few allocations per answer instead of some per recipient.
//
// It reads a strict subset of what encoding/json reads: member names in
// ASCII without escapes, string values without escapes (valid UTF-8),
// integers without fraction or exponent, each known member at most once.
// Whatever falls outside it (a case variant of a known name, an escape, a
// duplicate, a type mismatch, a syntax error) makes the read report false,
// and the caller decodes the body again with encoding/json, which decides.
// So a scan either reads what encoding/json reads or gives up; each
// caller's fuzz test checks the agreement on its answer.
package jsonscan

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds how deep a skipped value may nest; deeper ones are left
// to encoding/json.
const maxDepth = 64

// Scanner reads one JSON document from a byte slice.
type Scanner struct {
	b     []byte
	i     int
	depth int
}

// New returns a scanner at the start of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

func (s *Scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume consumes c if it is the next byte after white space.
func (s *Scanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// End reports whether only white space is left.
func (s *Scanner) End() bool {
	s.space()
	return s.i == len(s.b)
}

// Null consumes a null, if the next value is one.
func (s *Scanner) Null() bool { return s.literal("null") }

func (s *Scanner) literal(lit string) bool {
	s.space()
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// Object reads an object, calling member with each member's name; member
// must read the value (or report false).
func (s *Scanner) Object(member func(name []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		name, ok := s.name()
		if !ok || !s.consume(':') || !member(name) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// Struct reads an object into the fields names lists, as encoding/json
// reads one into a struct: field(i) reads the value of names[i], members
// of no field are skipped, and a null leaves its field as it is (zero:
// each field is read once at most). It gives up as member does.
func (s *Scanner) Struct(names []string, field func(i int) bool) bool {
	var seen uint64
	return s.Object(func(name []byte) bool {
		i, ok := member(name, names, &seen)
		switch {
		case !ok:
			return false
		case i < 0:
			return s.Skip()
		case s.Null():
			return true
		}
		return field(i)
	})
}

// Array reads an array, calling elem for each element; elem must read
// it (or report false).
func (s *Scanner) Array(elem func() bool) bool {
	if !s.consume('[') {
		return false
	}
	if s.consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume(']')
	}
}

// Entries reads an array of objects into entries, keeping each entry's
// strings in refs, a parallel slice: read gets the entry and its refs,
// appended zero, and the previous entry's refs (zero for the first), for
// its strings to reuse (Scanner.ReadString's prev).
func Entries[E, R any](s *Scanner, entries *[]E, refs *[]R, read func(e *E, refs *R, prev R) bool) bool {
	return s.Array(func() bool {
		var prev R
		if n := len(*refs); n > 0 {
			prev = (*refs)[n-1]
		}
		*entries = append(*entries, *new(E))
		*refs = append(*refs, *new(R))
		return read(&(*entries)[len(*entries)-1], &(*refs)[len(*refs)-1], prev)
	})
}

// name reads a member name: printable ASCII without escapes.
func (s *Scanner) name() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	for s.i+8 <= len(s.b) && !stopsString(binary.LittleEndian.Uint64(s.b[s.i:]), high) {
		s.i += 8
	}
	for s.i < len(s.b) && plainName[s.b[s.i]] {
		s.i++
	}
	if s.i == len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	s.i++
	return s.b[start : s.i-1], true
}

// String reads a string without escapes, in valid UTF-8: the bytes
// between its quotes, as encoding/json would decode them.
func (s *Scanner) String() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	s.plain()
	if s.i == len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	v := s.b[start:s.i]
	s.i++
	return v, utf8.Valid(v)
}

// plain moves past the bytes a string holds as they are: all but the
// quote, the backslash and control characters.
func (s *Scanner) plain() {
	for s.i+8 <= len(s.b) && !stopsString(binary.LittleEndian.Uint64(s.b[s.i:]), 0) {
		s.i += 8
	}
	for s.i < len(s.b) && plainString[s.b[s.i]] {
		s.i++
	}
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// stopsString reports whether any of the 8 bytes in x is a quote, a
// backslash, a control character or, with stopHigh set to high, a byte
// from 0x80 up: whether a byte-by-byte scan must look at them.
func stopsString(x, stopHigh uint64) bool {
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	zero := func(v uint64) uint64 { return (v - ones) &^ v }
	return (zero(quote)|zero(backslash)|(x-ones*0x20)&^x|x&stopHigh)&high != 0
}

// plainString and plainName are the bytes that stand for themselves in a
// string and in a member name scanned here.
var plainString, plainName = func() (str, name [256]bool) {
	for c := 0x20; c < 256; c++ {
		str[c] = c != '"' && c != '\\'
		name[c] = str[c] && c < utf8.RuneSelf
	}
	return str, name
}()

// maxIntDigits is the most digits Int reads: 18 for a 64-bit int, 9 for
// a 32-bit one, so that any number read fits.
const maxIntDigits = strconv.IntSize * 18 / 64

// Int reads an integer without fraction or exponent, of at most
// maxIntDigits digits.
func (s *Scanner) Int() (int, bool) {
	s.space()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	start, v := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		v = v*10 + int(s.b[s.i]-'0')
		s.i++
	}
	switch n := s.i - start; {
	case n == 0 || n > maxIntDigits || n > 1 && s.b[start] == '0':
		return 0, false
	case s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E'):
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// Bool reads true or false.
func (s *Scanner) Bool() (v, ok bool) {
	switch {
	case s.literal("true"):
		return true, true
	case s.literal("false"):
		return false, true
	}
	return false, false
}

// Skip reads any value, checking its syntax as encoding/json does.
func (s *Scanner) Skip() bool {
	s.space()
	if s.i == len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.nested(func() bool { return s.Object(func([]byte) bool { return s.Skip() }) })
	case c == '[':
		return s.nested(func() bool { return s.Array(s.Skip) })
	case c == '"':
		return s.skipString()
	case c == '-' || c >= '0' && c <= '9':
		return s.skipNumber()
	}
	return s.literal("true") || s.literal("false") || s.literal("null")
}

func (s *Scanner) nested(read func() bool) bool {
	if s.depth == maxDepth {
		return false
	}
	s.depth++
	ok := read()
	s.depth--
	return ok
}

// skipString reads a string whose escapes are valid; encoding/json
// accepts any other byte from 0x20 up, invalid UTF-8 included.
func (s *Scanner) skipString() bool {
	s.i++ // the opening quote
	for {
		s.plain()
		switch {
		case s.i == len(s.b) || s.b[s.i] < 0x20:
			return false
		case s.b[s.i] == '"':
			s.i++
			return true
		case !s.skipEscape():
			return false
		}
	}
}

func (s *Scanner) skipEscape() bool {
	if s.i+1 >= len(s.b) {
		return false
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if s.i+6 > len(s.b) {
			return false
		}
		for _, h := range s.b[s.i+2 : s.i+6] {
			if !isHex(h) {
				return false
			}
		}
		s.i += 6
		return true
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// skipNumber reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *Scanner) skipNumber() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *Scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// member finds name among the names a struct's fields decode from, as
// encoding/json matches them: its index, or -1 for a name no field takes.
// It reports false for a name encoding/json would match only case-
// insensitively (the slow path decides those) and for a second member of
// the same field (encoding/json would decode it again); seen holds the
// fields read so far, one bit each.
func member(name []byte, names []string, seen *uint64) (int, bool) {
	for i, n := range names {
		if string(name) != n {
			continue
		}
		if *seen&(1<<i) != 0 {
			return 0, false
		}
		*seen |= 1 << i
		return i, true
	}
	for _, n := range names {
		if foldsTo(name, n) {
			return 0, false
		}
	}
	return -1, true
}

// foldsTo reports whether the ASCII name equals n but for letter case.
func foldsTo(name []byte, n string) bool {
	if len(name) != len(n) {
		return false
	}
	for i, c := range name {
		if lower(c) != lower(n[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
