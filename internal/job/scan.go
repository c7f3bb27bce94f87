package job

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// scanJob reads, by hand, the jobs most producers send: the job's scalar
// members, a metadata object, and recipients with ref, phone,
// country_code, content, variables, title, header and buttons. It is
// several times faster than json v2 and allocates a few times per job
// instead of once per string: the recipients' strings are slices of one
// copy of data (the job's own are copied apart: they outlive it as metric
// labels and keys). Anything else — another member, a duplicate one,
// null, an empty string, a \u escape, invalid UTF-8, a number that is not
// a plain integer, trailing data — it leaves to json v2 (ok false). So it
// reads only what it reads exactly as json v2 does, which
// FuzzScanAgreesWithJSONv2 checks; decodeFast then proves the job valid as
// before.
func scanJob(data []byte) (*Job, bool) {
	s := scanner{data: data}
	j := &Job{Recipients: make([]Recipient, 0, countPhones(data))} // as decodeFast sizes them
	if !object(&s, j, (*scanner).jobMember) || !s.end() {
		return nil, false
	}
	s.keepOwn()
	return j, true
}

// object reads an object into v, member reading the value of each member
// and naming it by a bit: a name read twice refuses the object.
func object[T any](s *scanner, v *T, member func(s *scanner, v *T, name token) (bit uint32, ok bool)) bool {
	var set uint32
	for first := true; ; first = false {
		name, more, ok := s.member(first)
		if !ok || !more {
			return ok
		}
		bit, ok := member(s, v, name)
		if !ok || set&bit != 0 {
			return false
		}
		set |= bit
	}
}

// objects reads an array of objects into *list, as object does.
func objects[T any](s *scanner, list *[]T, member func(s *scanner, v *T, name token) (bit uint32, ok bool)) bool {
	for first := true; ; first = false {
		more, ok := s.elem(first)
		if !ok || !more {
			return ok
		}
		*list = append(*list, *new(T))
		if !object(s, &(*list)[len(*list)-1], member) {
			return false
		}
	}
}

// maxDepth bounds the nesting of metadata scanJob reads.
const maxDepth = 32

type scanner struct {
	data  []byte
	i     int
	whole string // data as a string, made for the first recipient
	// own are the job's own strings read (str), copied at the end by
	// keepOwn.
	own   [4]ownString
	owned int
}

type ownString struct {
	dst *string
	t   token
}

// token is a string read: data[start:end] as written, or esc, its bytes
// unescaped, when it had escapes.
type token struct {
	start, end int
	esc        []byte
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.data)
}

// member reads the next member name of an object and its colon, the
// object's '{' first when first is true; more is false after its '}'.
// Names with escapes are refused (an escaped name may equal another).
func (s *scanner) member(first bool) (name token, more, ok bool) {
	if first && !s.next('{') {
		return token{}, false, false
	}
	if s.next('}') {
		return token{}, false, true
	}
	if !first && !s.next(',') {
		return token{}, false, false
	}
	name, ok = s.string(false)
	return name, ok, ok && s.next(':')
}

// elem moves to the next element of an array, past its '[' first when
// first is true; more is false after its ']'.
func (s *scanner) elem(first bool) (more, ok bool) {
	if first && !s.next('[') {
		return false, false
	}
	if s.next(']') {
		return false, true
	}
	if !first && !s.next(',') {
		return false, false
	}
	return true, true
}

// string reads a string, unescaping \" \\ \/ \b \f \n \r \t if escapes
// is true; any other escape, invalid UTF-8 or the empty string (see
// decodeFast) refuses it.
func (s *scanner) string(escapes bool) (t token, ok bool) {
	if !s.next('"') {
		return token{}, false
	}
	d := s.data
	t.start = s.i
	for {
		run, i := s.i, s.i
		for i < len(d) && d[i] != '"' && d[i] != '\\' && d[i] >= 0x20 {
			i++
		}
		// An escape never splits a UTF-8 sequence: runs are checked apart.
		if i >= len(d) || d[i] < 0x20 || !utf8.Valid(d[run:i]) {
			return token{}, false
		}
		if t.esc != nil {
			t.esc = append(t.esc, d[run:i]...)
		}
		if d[i] == '"' {
			t.end, s.i = i, i+1
			return t, t.end > t.start
		}
		e := byte(0)
		if i+1 < len(d) {
			e = unescaped(d[i+1])
		}
		if !escapes || e == 0 {
			return token{}, false
		}
		if t.esc == nil {
			t.esc = append(make([]byte, 0, i-t.start+64), d[t.start:i]...)
		}
		t.esc = append(t.esc, e)
		s.i = i + 2
	}
}

// unescaped is the byte of the escape \c string reads, 0 for others.
func unescaped(c byte) byte {
	switch c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return 0
}

// raw is t's bytes: in data, or unescaped.
func (s *scanner) raw(t token) []byte {
	if t.esc != nil {
		return t.esc
	}
	return s.data[t.start:t.end]
}

// str reads a string value that is the job's own (id, account, sender,
// template): keepOwn copies it. A fifth one can only repeat a member and
// is refused.
func (s *scanner) str(dst *string) bool {
	t, ok := s.string(true)
	if !ok || s.owned == len(s.own) {
		return false
	}
	s.own[s.owned] = ownString{dst, t}
	s.owned++
	return true
}

// keepOwn gives the job's own strings one copy of their own, apart from
// the recipients': they outlive the job as metric labels and map keys.
func (s *scanner) keepOwn() {
	n := 0
	for _, o := range s.own[:s.owned] {
		n += len(s.raw(o.t))
	}
	var b strings.Builder
	b.Grow(n)
	for _, o := range s.own[:s.owned] {
		b.Write(s.raw(o.t))
	}
	all := b.String()
	for _, o := range s.own[:s.owned] {
		n := len(s.raw(o.t))
		*o.dst, all = all[:n], all[n:]
	}
}

// word reads a string value that is mostly one of words (a kind, a
// priority): then that word, without a copy.
func (s *scanner) word(dst *string, words ...string) bool {
	t, ok := s.string(true)
	raw := s.raw(t)
	for _, w := range words {
		if string(raw) == w {
			*dst = w
			return ok
		}
	}
	*dst = string(raw)
	return ok
}

// recipientStr reads a string value of a recipient: a slice of the one
// copy of data when it had no escapes.
func (s *scanner) recipientStr(dst *string) bool {
	t, ok := s.string(true)
	*dst = s.shared(t)
	return ok
}

// shared is t as a slice of the one copy of data, or its unescaped bytes.
func (s *scanner) shared(t token) string {
	if t.esc != nil {
		return string(t.esc)
	}
	if s.whole == "" {
		s.whole = string(s.data)
	}
	return s.whole[t.start:t.end]
}

// integer reads a small non-negative integer written plainly.
func (s *scanner) integer(dst *int) bool {
	s.ws()
	n, start := 0, s.i
	for s.i < len(s.data) && s.data[s.i] >= '0' && s.data[s.i] <= '9' && s.i-start < 9 {
		n = n*10 + int(s.data[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || (digits > 1 && s.data[start] == '0') || s.i < len(s.data) && isNumberByte(s.data[s.i]) {
		return false
	}
	*dst = n
	return true
}

func isNumberByte(c byte) bool {
	return isDigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

func (s *scanner) boolean(dst *bool) bool {
	s.ws()
	switch {
	case hasPrefixAt(s.data, s.i, "true"):
		*dst = true
		s.i += 4
	case hasPrefixAt(s.data, s.i, "false"):
		*dst = false
		s.i += 5
	default:
		return false
	}
	return s.i == len(s.data) || !isAlnum(s.data[s.i])
}

func hasPrefixAt(b []byte, i int, p string) bool {
	return len(b)-i >= len(p) && string(b[i:i+len(p)]) == p
}

// The string members of a job, a recipient and a button, in the order of
// the fields jobMember, recipientMember and buttonMember pass stringField.
var (
	jobStrings       = []string{"id", "account", "sender", "template"}
	recipientStrings = []string{"ref", "phone", "country_code", "content", "title", "header"}
	buttonStrings    = []string{"type", "name", "url_mobile", "url_pc", "scheme_ios", "scheme_android", "chat_extra", "chat_event"}
)

// stringField reads the value of member name into fields[i] when names[i]
// is name, with read; its bit is 1<<i. found is false for another name.
func (s *scanner) stringField(name token, names []string, fields []*string, read func(*scanner, *string) bool) (bit uint32, ok, found bool) {
	for i, n := range names {
		if string(s.raw(name)) == n {
			return 1 << i, read(s, fields[i]), true
		}
	}
	return 0, false, false
}

// jobMember reads the value of member name of j.
func (s *scanner) jobMember(j *Job, name token) (bit uint32, ok bool) {
	if bit, ok, found := s.stringField(name, jobStrings, []*string{&j.ID, &j.Account, &j.Sender, &j.Template}, (*scanner).str); found {
		return bit, ok
	}
	switch string(s.raw(name)) {
	case "version":
		return 1 << 4, s.integer(&j.Version)
	case "kind":
		return 1 << 5, s.word((*string)(&j.Kind), string(AlimTalk), string(FriendTalk), string(BrandMessage))
	case "priority":
		return 1 << 6, s.word((*string)(&j.Priority), string(PriorityNormal), string(PriorityUrgent))
	case "ad":
		return 1 << 7, s.boolean(&j.Ad)
	case "metadata":
		s.ws()
		start := s.i
		if s.i >= len(s.data) || s.data[s.i] != '{' || !s.value(0) {
			return 0, false
		}
		j.Metadata = append([]byte(nil), s.data[start:s.i]...)
		return 1 << 8, true
	case "recipients":
		return 1 << 9, objects(s, &j.Recipients, (*scanner).recipientMember)
	}
	return 0, false
}

// countPhones counts the recipients to size their slice once (see
// decodeFast): every recipient has a phone. A count that is too high
// (a variable named phone) only wastes capacity; phone" is quicker to find
// than "phone", whose first byte is everywhere.
func countPhones(data []byte) int { return bytes.Count(data, []byte(`phone"`)) }

// recipientMember reads the value of member name of r.
func (s *scanner) recipientMember(r *Recipient, name token) (bit uint32, ok bool) {
	fields := []*string{&r.Ref, &r.Phone, &r.CountryCode, &r.Content, &r.Title, &r.Header}
	if bit, ok, found := s.stringField(name, recipientStrings, fields, (*scanner).recipientStr); found {
		return bit, ok
	}
	switch string(s.raw(name)) {
	case "variables":
		return 1 << 6, s.variables(r)
	case "buttons":
		// [] is left to json v2, which decodes it as an empty slice.
		return 1 << 7, objects(s, &r.Buttons, (*scanner).buttonMember) && len(r.Buttons) > 0
	}
	return 0, false
}

func (s *scanner) variables(r *Recipient) bool {
	r.Variables = map[string]string{}
	for first := true; ; first = false {
		name, more, ok := s.member(first)
		if !ok || !more {
			return ok
		}
		var v string
		if _, dup := r.Variables[string(s.raw(name))]; dup || !s.recipientStr(&v) {
			return false
		}
		r.Variables[s.shared(name)] = v
	}
}

// buttonMember reads the value of member name of b.
func (s *scanner) buttonMember(b *Button, name token) (bit uint32, ok bool) {
	fields := []*string{&b.Type, &b.Name, &b.URLMobile, &b.URLPC, &b.SchemeIOS, &b.SchemeAndroid, &b.ChatExtra, &b.ChatEvent}
	bit, ok, _ = s.stringField(name, buttonStrings, fields, (*scanner).recipientStr)
	return bit, ok
}

// value checks one JSON value of metadata: objects with distinct names
// (compared as written: names with escapes are refused), arrays, strings
// (no \u escapes), numbers, true and false.
func (s *scanner) value(depth int) bool {
	if depth > maxDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '{':
		names := make([]token, 0, 8)
		for first := true; ; first = false {
			name, more, ok := s.member(first)
			if !ok || !more {
				return ok
			}
			for _, n := range names {
				if string(s.raw(n)) == string(s.raw(name)) {
					return false
				}
			}
			names = append(names, name)
			if !s.value(depth + 1) {
				return false
			}
		}
	case c == '[':
		for first := true; ; first = false {
			more, ok := s.elem(first)
			if !ok || !more {
				return ok
			}
			if !s.value(depth + 1) {
				return false
			}
		}
	case c == '"':
		_, ok := s.string(true)
		return ok
	case c == 't' || c == 'f':
		var b bool
		return s.boolean(&b)
	case c == '-' || isDigit(c):
		return s.number()
	}
	return false
}

// number checks a JSON number.
func (s *scanner) number() bool {
	d := s.data
	i := s.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	s.i = i
	return i == len(d) || !isNumberByte(d[i]) && !isAlnum(d[i])
}
