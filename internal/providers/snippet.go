package providers

import "strings"

// Snippet is a provider's answer text short enough for an error message:
// trimmed, valid UTF-8, at most 200 bytes and "...".
func Snippet(b []byte) string {
	const max = 200
	s := strings.ToValidUTF8(strings.TrimSpace(string(b)), "?")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return s
}
