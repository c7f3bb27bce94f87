package result

import (
	"sync/atomic"
	"time"
)

// stamp is the RFC 3339 text of one second of one location: a run of
// results made within a second formats its date and time once.
type stamp struct {
	loc  *time.Location
	sec  int64  // Unix seconds
	text []byte // "2006-01-02T15:04:05"
	zone []byte // "Z" or "+09:00"
}

// stampCache holds the last stamp one field was written with.
type stampCache struct{ last atomic.Pointer[stamp] }

// The stamps of the event's time and of its sent_at, which are seconds
// apart at times.
var timeStamps, sentStamps stampCache

// lenDateTime is the length of an RFC 3339 date and time without
// fraction and zone, for a four-digit year.
const lenDateTime = len("2006-01-02T15:04:05")

// appendTime appends t as t.AppendFormat(b, time.RFC3339Nano) does.
func (c *stampCache) appendTime(b []byte, t time.Time) []byte {
	loc, sec := t.Location(), t.Unix()
	s := c.last.Load()
	if s == nil || s.sec != sec || s.loc != loc {
		if s = newStamp(loc, sec); s == nil {
			return t.AppendFormat(b, time.RFC3339Nano)
		}
		c.last.Store(s)
	}
	b = append(b, s.text...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, s.zone...)
}

// newStamp formats second sec of loc; nil for a year of other than four
// digits, which the caller formats the slow way.
func newStamp(loc *time.Location, sec int64) *stamp {
	whole := time.Unix(sec, 0).In(loc).AppendFormat(nil, time.RFC3339Nano)
	if len(whole) <= lenDateTime || whole[lenDateTime] != 'Z' && whole[lenDateTime] != '+' && whole[lenDateTime] != '-' {
		return nil
	}
	return &stamp{loc: loc, sec: sec, text: whole[:lenDateTime], zone: whole[lenDateTime:]}
}
