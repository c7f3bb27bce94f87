package intake

import (
	"strings"
	"time"
)

// ackMeta reads a job message's stream sequence, delivery count and store
// time from its reply (ack) subject, as jetstream.Msg.Metadata does, but
// without allocating (this runs for every message pulled):
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<time>.<pending>
//	$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<time>.<pending>[.<token>...]
//
// ok is false for any other subject.
func ackMeta(reply string) (seq, delivered uint64, stored time.Time, ok bool) {
	rest, found := strings.CutPrefix(reply, "$JS.ACK.")
	if !found {
		return 0, 0, time.Time{}, false
	}
	// Tokens after "$JS.ACK.": 7 in the old form, 9 or more in the new.
	skip := 2 // stream, consumer
	switch n := strings.Count(rest, ".") + 1; {
	case n == 7:
	case n >= 9:
		skip = 4 // domain, account hash, stream, consumer
	default:
		return 0, 0, time.Time{}, false
	}
	for range skip {
		_, rest, _ = strings.Cut(rest, ".")
	}
	var fields [4]uint64 // delivered, sseq, cseq, time
	for i := range fields {
		var tok string
		tok, rest, _ = strings.Cut(rest, ".")
		if fields[i], ok = decimal(tok); !ok {
			return 0, 0, time.Time{}, false
		}
	}
	return fields[1], fields[0], time.Unix(0, int64(fields[3])), true
}

// decimal parses a token of ASCII digits.
func decimal(s string) (n uint64, ok bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
