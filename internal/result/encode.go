package result

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the event's JSON to b. It writes the same document
// as encoding/json would (field order, omitted empty fields), without
// reflection: results are the worker's most frequent output. Metadata is
// copied as it is: keep it compact (the worker compacts it once per job).
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = appendField(b, "job_id", e.JobID, false)
	b = append(b, `,"recipient_index":`...)
	b = strconv.AppendInt(b, int64(e.RecipientIndex), 10)
	b = appendField(b, "ref", e.Ref, true)
	b = appendField(b, "phone", e.Phone, true)
	b = appendField(b, "account", e.Account, false)
	b = appendField(b, "provider", e.Provider, true)
	b = appendField(b, "kind", e.Kind, true)
	b = appendField(b, "status", string(e.Status), false)
	b = append(b, `,"retryable":`...)
	b = strconv.AppendBool(b, e.Retryable)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(e.Attempt), 10)
	b = appendField(b, "reason", string(e.Reason), false)
	b = appendField(b, "code", e.Code, true)
	b = appendField(b, "code_name", e.CodeName, true)
	b = appendField(b, "message", e.Message, true)
	b = appendField(b, "detail", e.Detail, true)
	b = appendField(b, "provider_request_id", e.ProviderRequestID, true)
	b = appendField(b, "provider_message_id", e.ProviderMessageID, true)
	b = appendField(b, "reserved_by", e.ReservedBy, true)
	if len(e.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = append(b, e.Metadata...)
	}
	b = appendField(b, "trace_id", e.TraceID, true)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.SentAt != nil {
		b = append(b, `,"sent_at":"`...)
		b = e.SentAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, '}')
}

func appendField(b []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (including <, > and &, U+2028 and U+2029; invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
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
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
