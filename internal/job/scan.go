package job

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// scanJob reads, by hand, the jobs most producers send: the job's scalar
// members, a metadata object, and recipients with ref, phone,
// country_code, content, variables, title, header and buttons. It is
// several times faster than json v2 and allocates a few times per job
// instead of once per string: the recipients' strings and the metadata
// are slices of one copy of data, their escapes undone in place (the
// job's own strings are copied apart: they outlive it as metric labels
// and keys). Anything else — another member, a duplicate one, null, an
// empty string, a \u escape, invalid UTF-8, a number that is not a plain
// integer, trailing data — it leaves to json v2 (ok false). So it reads
// only what it reads exactly as json v2 does, which
// FuzzScanAgreesWithJSONv2 checks; decodeFast then proves the job valid as
// before.
func scanJob(data []byte) (*Job, bool) {
	if len(data) == 0 {
		return nil, false
	}
	// Room for one recipient: most jobs have one, and the second makes
	// room for the rest (objects).
	j, buttons := newJob(1)
	buf := append([]byte(nil), data...)
	// whole shares buf's bytes: once scanJob returns, nothing writes them
	// (the metadata's bytes are apart from every string's).
	s := scanner{data: data, buf: buf, whole: unsafe.String(unsafe.SliceData(buf), len(buf)), buttons: buttons}
	if !object(&s, j, s.jobMember) || !s.end() {
		return nil, false
	}
	s.keepOwn()
	return j, true
}

// newJob returns an empty job with room for n recipients (see
// countPhones). A job of one recipient takes one allocation with it and
// with room for a button (buttons: a notification has one more often than
// not), for scanJob.
func newJob(n int) (j *Job, buttons []Button) {
	if n == 1 {
		one := new(struct {
			job       Job
			recipient [1]Recipient
			button    [1]Button
		})
		one.job.Recipients = one.recipient[:0]
		return &one.job, one.button[:0]
	}
	return &Job{Recipients: make([]Recipient, 0, n)}, nil
}

// object reads an object into v, member reading the value of each member
// and naming it by a bit: a name read twice refuses the object.
func object[T any](s *scanner, v *T, member func(v *T, name []byte) (bit uint32, ok bool)) bool {
	var set uint32
	for first := true; ; first = false {
		name, more, ok := s.member(first)
		if !ok || !more {
			return ok
		}
		bit, ok := member(v, s.bytes(name))
		if !ok || set&bit != 0 {
			return false
		}
		set |= bit
	}
}

// objects reads an array of objects into *list, as object does. A full
// list grows once for all the elements left, which count counts in the
// rest of the data.
func objects[T any](s *scanner, list *[]T, member func(v *T, name []byte) (bit uint32, ok bool), count func(data []byte) int) bool {
	for first := true; ; first = false {
		more, ok := s.elem(first)
		if !ok || !more {
			return ok
		}
		if len(*list) == cap(*list) {
			*list = append(make([]T, 0, len(*list)+count(s.data[s.i:])), *list...)
		}
		if n := len(*list); n < cap(*list) {
			// Spare capacity is zero (make's, new's or append's): no
			// copy of a zero T, which costs write barriers while the GC
			// runs.
			*list = (*list)[:n+1]
		} else {
			*list = append(*list, *new(T))
		}
		if !object(s, &(*list)[len(*list)-1], member) {
			return false
		}
	}
}

// maxDepth bounds the nesting of metadata scanJob reads.
const maxDepth = 32

type scanner struct {
	data []byte // the job as received, only read
	// buf is scanJob's copy of data, where the strings kept have their
	// escapes undone, each within its own bytes; whole is buf as a
	// string.
	buf   []byte
	whole string
	i     int
	// buttons holds the recipients' buttons, each recipient's a slice of
	// it: room for one with a job's first recipient (newJob), then for all
	// that are left (objects).
	buttons []Button
	// own are the job's own strings read (str), copied at the end by
	// keepOwn.
	own   [4]ownString
	owned int
}

type ownString struct {
	dst        *string
	start, end int // in buf
}

// span is a string read: data[start:end], between its quotes; esc tells
// that it has escapes.
type span struct {
	start, end int
	esc        bool
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		// One comparison for most bytes: whitespace is at most ' '.
		if c := s.data[s.i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		s.i++
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
func (s *scanner) member(first bool) (name span, more, ok bool) {
	if first && !s.next('{') {
		return span{}, false, false
	}
	if s.next('}') {
		return span{}, false, true
	}
	if !first && !s.next(',') {
		return span{}, false, false
	}
	name, ok = s.string()
	if !ok || name.esc || !s.next(':') {
		return span{}, false, false
	}
	return name, true, true
}

// bytes is t's bytes as written.
func (s *scanner) bytes(t span) []byte { return s.data[t.start:t.end] }

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

// stringStop marks the bytes that end a run of a string's plain bytes: a
// quote, a backslash and the control characters.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// ones has a 1 in each byte: ones*c repeats byte c eight times.
const ones = 0x0101010101010101

// stops8 tells whether one of the eight bytes of x is a stringStop byte,
// by the bit tricks of "Bit Twiddling Hacks" (hasless, haszero):
// (x-ones*n) &^ x & (ones*0x80) is not zero iff a byte of x is below n
// (n <= 0x80).
func stops8(x uint64) bool {
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	below := func(x uint64, n uint64) uint64 { return (x - ones*n) &^ x }
	return (below(x, 0x20)|below(quote, 1)|below(backslash, 1))&(ones*0x80) != 0
}

// string reads a string whose escapes are \" \\ \/ \b \f \n \r \t; any
// other escape, invalid UTF-8 or the empty string (see decodeFast)
// refuses it. text undoes its escapes.
func (s *scanner) string() (t span, ok bool) {
	if !s.next('"') {
		return span{}, false
	}
	d := s.data
	i := s.i
	var high uint64 // the bytes' top bits: UTF-8 needs checking if set
	for {
		for i+8 <= len(d) {
			x := binary.LittleEndian.Uint64(d[i:])
			if stops8(x) {
				break
			}
			high |= x
			i += 8
		}
		for i < len(d) && !stringStop[d[i]] {
			high |= uint64(d[i])
			i++
		}
		if i >= len(d) || d[i] != '\\' {
			break
		}
		if i+1 >= len(d) || unescaped(d[i+1]) == 0 {
			return span{}, false
		}
		t.esc = true
		i += 2
	}
	// An escape is ASCII: it never hides invalid UTF-8 around it.
	if i >= len(d) || d[i] != '"' || high&(ones*0x80) != 0 && !utf8.Valid(d[s.i:i]) {
		return span{}, false
	}
	t.start, t.end, s.i = s.i, i, i+1
	return t, t.end > t.start
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

// text is t's bytes in buf, its escapes undone there (in place: the
// unescaped bytes are never more).
func (s *scanner) text(t span) []byte {
	if !t.esc {
		return s.buf[t.start:t.end]
	}
	n := t.start
	for i := t.start; i < t.end; i++ {
		c := s.data[i]
		if c == '\\' {
			i++
			c = unescaped(s.data[i])
		}
		s.buf[n] = c
		n++
	}
	return s.buf[t.start:n]
}

// str reads a string value that is the job's own (id, account, sender,
// template): keepOwn copies it. A fifth one can only repeat a member and
// is refused.
func (s *scanner) str(dst *string) bool {
	t, ok := s.string()
	if !ok || s.owned == len(s.own) {
		return false
	}
	s.own[s.owned] = ownString{dst, t.start, t.start + len(s.text(t))}
	s.owned++
	return true
}

// keepOwn gives the job's own strings one copy of their own, apart from
// the recipients': they outlive the job as metric labels and map keys.
func (s *scanner) keepOwn() {
	n := 0
	for _, o := range s.own[:s.owned] {
		n += o.end - o.start
	}
	var b strings.Builder
	b.Grow(n)
	for _, o := range s.own[:s.owned] {
		b.Write(s.buf[o.start:o.end])
	}
	all := b.String()
	for _, o := range s.own[:s.owned] {
		n := o.end - o.start
		*o.dst, all = all[:n], all[n:]
	}
}

// word reads a string value that is mostly one of words (a kind, a
// priority): then that word, without a copy.
func (s *scanner) word(dst *string, words ...string) bool {
	t, ok := s.string()
	if !ok {
		return false
	}
	raw := s.text(t)
	for _, w := range words {
		if string(raw) == w {
			*dst = w
			return true
		}
	}
	*dst = string(raw)
	return true
}

// recipientStr reads a string value of a recipient: a slice of whole.
func (s *scanner) recipientStr(dst *string) bool {
	t, ok := s.string()
	*dst = s.shared(t)
	return ok
}

// shared is t, its escapes undone, as a slice of whole.
func (s *scanner) shared(t span) string {
	return s.whole[t.start : t.start+len(s.text(t))]
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

// jobMember reads the value of member name of j.
func (s *scanner) jobMember(j *Job, name []byte) (bit uint32, ok bool) {
	switch string(name) {
	case "id":
		return 1 << 0, s.str(&j.ID)
	case "account":
		return 1 << 1, s.str(&j.Account)
	case "sender":
		return 1 << 2, s.str(&j.Sender)
	case "template":
		return 1 << 3, s.str(&j.Template)
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
		j.Metadata = s.buf[start:s.i:s.i] // its strings keep their escapes: see value
		return 1 << 8, true
	case "recipients":
		return 1 << 9, objects(s, &j.Recipients, s.recipientMember, countPhones)
	}
	return 0, false
}

// countPhones counts the recipients to size their slice once: growing a
// slice of 50,000 recipients by doubling would allocate (and leave for the
// GC) twice what it keeps. Every recipient has a phone. A count that is
// too high (a variable named phone) only wastes capacity; phone" is
// quicker to find than "phone", whose first byte is everywhere.
func countPhones(data []byte) int { return bytes.Count(data, []byte(`phone"`)) }

// countButtons counts the buttons in data, by their type, which every
// button has, to give a job's buttons one allocation, not one per
// recipient. A count that is too high only wastes capacity.
func countButtons(data []byte) int { return bytes.Count(data, []byte(`"type"`)) }

// recipientMember reads the value of member name of r.
func (s *scanner) recipientMember(r *Recipient, name []byte) (bit uint32, ok bool) {
	switch string(name) {
	case "ref":
		return 1 << 0, s.recipientStr(&r.Ref)
	case "phone":
		return 1 << 1, s.recipientStr(&r.Phone)
	case "country_code":
		return 1 << 2, s.recipientStr(&r.CountryCode)
	case "content":
		return 1 << 3, s.recipientStr(&r.Content)
	case "title":
		return 1 << 4, s.recipientStr(&r.Title)
	case "header":
		return 1 << 5, s.recipientStr(&r.Header)
	case "variables":
		return 1 << 6, s.variables(r)
	case "buttons":
		// [] is left to json v2, which decodes it as an empty slice.
		from := len(s.buttons)
		ok := objects(s, &s.buttons, s.buttonMember, countButtons)
		r.Buttons = s.buttons[from:len(s.buttons):len(s.buttons)]
		return 1 << 7, ok && len(r.Buttons) > 0
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
		if _, dup := r.Variables[string(s.bytes(name))]; dup || !s.recipientStr(&v) {
			return false
		}
		r.Variables[s.shared(name)] = v
	}
}

// buttonMember reads the value of member name of b.
func (s *scanner) buttonMember(b *Button, name []byte) (bit uint32, ok bool) {
	switch string(name) {
	case "type":
		return 1 << 0, s.recipientStr(&b.Type)
	case "name":
		return 1 << 1, s.recipientStr(&b.Name)
	case "url_mobile":
		return 1 << 2, s.recipientStr(&b.URLMobile)
	case "url_pc":
		return 1 << 3, s.recipientStr(&b.URLPC)
	case "scheme_ios":
		return 1 << 4, s.recipientStr(&b.SchemeIOS)
	case "scheme_android":
		return 1 << 5, s.recipientStr(&b.SchemeAndroid)
	case "chat_extra":
		return 1 << 6, s.recipientStr(&b.ChatExtra)
	case "chat_event":
		return 1 << 7, s.recipientStr(&b.ChatEvent)
	}
	return 0, false
}

// value checks one JSON value of metadata: objects with distinct names
// (compared as written: names with escapes are refused), arrays, strings
// (no \u escapes; left as written, escapes and all), numbers, true and
// false.
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
		names := make([]span, 0, 8)
		for first := true; ; first = false {
			name, more, ok := s.member(first)
			if !ok || !more {
				return ok
			}
			for _, n := range names {
				if string(s.bytes(n)) == string(s.bytes(name)) {
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
		_, ok := s.string()
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
