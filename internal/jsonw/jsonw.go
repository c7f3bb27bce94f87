// Package jsonw writes JSON strings by hand, byte for byte as
// encoding/json writes them, for the encoders on talkrelay's hot paths
// (result events, provider requests), which write their fields without
// reflection.
package jsonw

import "unicode/utf8"

// AppendString appends s as a JSON string, escaped as encoding/json.Marshal
// escapes it: <, > and & as \u003c, \u003e and \u0026, U+2028 and U+2029
// as \u2028 and \u2029, invalid UTF-8 as \ufffd.
func AppendString(b []byte, s string) []byte { return appendString(b, s, &htmlSafe) }

// AppendStringNoHTML appends s as a JSON string, escaped as an
// encoding/json Encoder with SetEscapeHTML(false) escapes it: as
// AppendString, but <, > and & as they are.
func AppendStringNoHTML(b []byte, s string) []byte { return appendString(b, s, &safe) }

const hex = "0123456789abcdef"

// safe and htmlSafe are the ASCII characters written as they are.
var safe, htmlSafe = func() (all, html [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		all[c] = c != '"' && c != '\\'
		html[c] = all[c] && c != '<' && c != '>' && c != '&'
	}
	return all, html
}()

func appendString(b []byte, s string, safe *[utf8.RuneSelf]bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		if c >= 0xE1 && i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 &&
			(c <= 0xEC || c == 0xED && s[i+1] < 0xA0 || c == 0xEE || c == 0xEF) {
			// A valid three-byte rune (Hangul among them), read inline.
			if c == 0xE2 && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8 {
				b = append(b, s[start:i]...)
				b = append(b, '\\', 'u', '2', '0', '2', hex[s[i+2]&0xF])
				start = i + 3
			}
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
