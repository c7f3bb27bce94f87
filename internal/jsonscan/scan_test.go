package jsonscan

import (
	"encoding/binary"
	"encoding/json"
	"testing"
)

// Skip must accept only what encoding/json finds valid (it may give up on
// valid JSON it does not read, nothing more).
func FuzzSkipAcceptsOnlyValidJSON(f *testing.F) {
	for _, seed := range []string{
		`{"a":[1,-0.5e+3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}}`, `[]`, `""`, `0`, `-`, `01`, `1.`, `1e`, `.5`,
		`"\x"`, `"\u12G4"`, "\"\x01\"", "\"\xff\"", `{"a" 1}`, `{"a":1,}`, `[1,]`, `nul`, `truex`, ` { } `, `{"é":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New(b)
		if s.Skip() && s.End() && !json.Valid(b) {
			t.Fatalf("Skip accepted %q, which encoding/json finds invalid", b)
		}
	})
}

// String, Int and Bool must read a value as encoding/json decodes it into
// a string, an int and a bool, or give up.
func FuzzValuesAgreeWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`"abc"`, `"성공"`, `""`, `"a\"b"`, "\"\xff\"", "\"\x1f\"", `"\u00e9"`,
		`0`, `-0`, `123`, `-123`, `01`, `1.0`, `1e3`, `999999999999999999`, `9999999999999999999`, `2147483648`, `-2147483649`, `-`,
		`true`, `false`, `null`, ` true `, `tru`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, ok := whole(b, (*Scanner).String); ok {
			var want string
			if err := json.Unmarshal(b, &want); err != nil || want != string(v) {
				t.Fatalf("String read %q from %q; encoding/json %q, %v", v, b, want, err)
			}
		}
		if v, ok := whole(b, (*Scanner).Int); ok {
			var want int
			if err := json.Unmarshal(b, &want); err != nil || want != v {
				t.Fatalf("Int read %d from %q; encoding/json %d, %v", v, b, want, err)
			}
		}
		if v, ok := whole(b, (*Scanner).Bool); ok {
			var want bool
			if err := json.Unmarshal(b, &want); err != nil || want != v {
				t.Fatalf("Bool read %v from %q; encoding/json %v, %v", v, b, want, err)
			}
		}
	})
}

// whole reads b with read, which must take all of it.
func whole[T any](b []byte, read func(*Scanner) (T, bool)) (T, bool) {
	s := New(b)
	v, ok := read(s)
	return v, ok && s.End()
}

func TestMemberMatchesAsEncodingJSONOrGivesUp(t *testing.T) {
	names := []string{"requestId", "messages"}
	for _, tc := range []struct {
		name  string
		index int
		ok    bool
	}{
		{"requestId", 0, true},
		{"messages", 1, true},
		{"countryCode", -1, true},
		{"request_id", -1, true}, // encoding/json does not ignore underscores
		{"RequestId", 0, false},  // encoding/json would take it: the slow path decides
		{"MESSAGES", 0, false},
	} {
		var seen uint64
		i, ok := member([]byte(tc.name), names, &seen)
		if i != tc.index && ok || ok != tc.ok {
			t.Errorf("member(%q) = %d, %v; want %d, %v", tc.name, i, ok, tc.index, tc.ok)
		}
	}
	var seen uint64
	if _, ok := member([]byte("requestId"), names, &seen); !ok {
		t.Fatal("first requestId refused")
	}
	if _, ok := member([]byte("requestId"), names, &seen); ok {
		t.Error("a second requestId accepted: encoding/json would decode it again")
	}
}

func TestArenaKeepsOneCopyOfARepeatedValue(t *testing.T) {
	a := MakeArena(0)
	first := a.Add([]byte("A000"), Ref{})
	again := a.Add([]byte("A000"), first)
	other := a.Add([]byte("3008"), again)
	s := a.String()
	if s != "A0003008" || first.In(s) != "A000" || again != first || other.In(s) != "3008" {
		t.Fatalf("arena %q: %v %v %v", s, first, again, other)
	}
}

// stopsString finds every byte a string scan must stop at, wherever it is
// in the word, and no other.
func TestStopsStringFindsEachStoppingByte(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			word := []byte("abcdefgh")
			word[pos] = byte(c)
			x := binary.LittleEndian.Uint64(word)
			if got, want := stopsString(x, 0), !plainString[c]; got != want {
				t.Errorf("byte %#x at %d in a string: stops %v, want %v", c, pos, got, want)
			}
			if got, want := stopsString(x, high), !plainName[c]; got != want {
				t.Errorf("byte %#x at %d in a name: stops %v, want %v", c, pos, got, want)
			}
		}
	}
}
