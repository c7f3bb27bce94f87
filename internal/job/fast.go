package job

import (
	"bytes"
	"regexp"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
)

// The JSON Schema validator is the contract but costs about 25µs for a
// one-recipient job: a core at 40,000 jobs/s. decodeFast accepts only
// jobs it can prove valid, with a strict decoder (case-sensitive names,
// no unknown or duplicate members, no null, no empty string, integers
// written as integers) and Go checks of every rule of job.v1.schema.json;
// anything else goes to the schema validator, which decides and explains.
// So decodeFast may send valid jobs the slow way, but never lets an
// invalid one through: FuzzFastPathAgreesWithSchema checks exactly that.
// A change to the schema needs the same change here.

// The schema's patterns, as byte loops (the fast path's hottest checks).

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// all reports whether every byte of s[from:] satisfies ok.
func all(s string, from int, ok func(byte) bool) bool {
	for i := from; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// validID: ^[A-Za-z0-9][A-Za-z0-9._:@=+-]{0,127}$
func validID(s string) bool {
	return len(s) >= 1 && len(s) <= 128 && isAlnum(s[0]) && all(s, 1, func(c byte) bool {
		return isAlnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '=' || c == '+' || c == '-'
	})
}

// validAccount: ^[A-Za-z0-9_-]{1,64}$
func validAccount(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && all(s, 0, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' })
}

// validPhone: ^[0-9][0-9-]{5,19}$
func validPhone(s string) bool {
	return len(s) >= 6 && len(s) <= 20 && isDigit(s[0]) && all(s, 1, func(c byte) bool { return isDigit(c) || c == '-' })
}

// validCountry: ^[0-9]{1,4}$
func validCountry(s string) bool { return len(s) >= 1 && len(s) <= 4 && all(s, 0, isDigit) }

// validNumber: ^[0-9-]{1,16}$
func validNumber(s string) bool {
	return len(s) >= 1 && len(s) <= 16 && all(s, 0, func(c byte) bool { return isDigit(c) || c == '-' })
}

// validCurrency: ^[A-Z]{3}$
func validCurrency(s string) bool {
	return len(s) == 3 && all(s, 0, func(c byte) bool { return c >= 'A' && c <= 'Z' })
}

// dateTimeRE is the strictest RFC 3339 form; only jobs with a reserve_at
// or deadline pay for it.
var dateTimeRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// buttonType tells whether t is one of the schema's button types.
func buttonType(t string) bool {
	switch t {
	case "DS", "WL", "AL", "BK", "MD", "AC", "BC", "BT", "PD":
		return true
	}
	return false
}

// decodeFast returns the job and true if data is a valid job by the fast
// path's proof, or false to ask the schema validator.
func decodeFast(data []byte) (*Job, bool) {
	// Most jobs scanJob reads (it refuses null and empty strings itself);
	// the others json v2 does.
	j, ok := scanJob(data)
	if !ok {
		if bytes.Contains(data, []byte("null")) || bytes.Contains(data, []byte(`""`)) {
			return nil, false
		}
		j, _ = newJob(countPhones(data))
		if err := jsonv2.Unmarshal(data, j, fastOptions); err != nil {
			return nil, false
		}
	}
	if !j.validFast(data) {
		return nil, false
	}
	return j, true
}

// fastOptions are decodeFast's json v2 options.
var fastOptions = jsonv2.RejectUnknownMembers(true)

func runes(s string, min, max int) bool {
	n := utf8.RuneCountInString(s)
	return n >= min && n <= max
}

func (j *Job) validFast(raw []byte) bool {
	switch {
	case j.Version != Version, !validID(j.ID), !validAccount(j.Account),
		j.Kind != AlimTalk && j.Kind != FriendTalk && j.Kind != BrandMessage,
		(j.Kind == BrandMessage) != (j.Brand != nil),
		j.Brand != nil && !(j.Ad && j.Brand.validFast()),
		j.Priority != "" && j.Priority != PriorityNormal && j.Priority != PriorityUrgent,
		j.Sender != "" && !runes(j.Sender, 1, 100),
		j.Template != "" && !runes(j.Template, 1, 64),
		j.Kind == AlimTalk && j.Template == "",
		j.ReserveAt != nil && !timeField(raw, "reserve_at"),
		j.Deadline != nil && !timeField(raw, "deadline"),
		j.Failover != nil && !j.Failover.validFast(),
		j.Metadata != nil && (len(j.Metadata) == 0 || j.Metadata[0] != '{'),
		len(j.Recipients) < 1 || len(j.Recipients) > 100000:
		return false
	}
	for i := range j.Recipients {
		r := &j.Recipients[i]
		if !r.validFast() || j.Kind != BrandMessage && r.Content == "" && r.Variables == nil {
			return false
		}
	}
	return true
}

// timeField proves the member name appears exactly once (a quoted name
// can only be a member name: inside a string its quotes are escaped) and
// that its value is an RFC 3339 date-time of the strictest form.
func timeField(raw []byte, name string) bool {
	key := []byte(`"` + name + `"`)
	i := bytes.Index(raw, key)
	if i < 0 || bytes.Contains(raw[i+len(key):], key) {
		return false
	}
	rest := bytes.TrimLeft(raw[i+len(key):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return false
	}
	rest = rest[1:]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return false
	}
	v := string(rest[:end])
	if !dateTimeRE.MatchString(v) {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, v)
	return err == nil
}

func (f *Failover) validFast() bool {
	return (f.Type == "" || f.Type == "SMS" || f.Type == "LMS") &&
		(f.From == "" || validNumber(f.From)) &&
		(f.UnsubscribeNo == "" || validNumber(f.UnsubscribeNo))
}

func (p *Pair) validFast() bool { return p.Title != "" && p.Description != "" }

func (b *Button) validFast() bool { return buttonType(b.Type) && b.Name != "" }

func (r *Recipient) validFast() bool {
	switch {
	case !runes(r.Ref, 0, 128), !validPhone(r.Phone),
		r.CountryCode != "" && !validCountry(r.CountryCode),
		r.ItemHighlight != nil && !r.ItemHighlight.validFast(),
		r.Image != nil && r.Image.Seq != nil && *r.Image.Seq < 0,
		r.Price != nil && *r.Price < 0,
		r.Currency != "" && !validCurrency(r.Currency),
		len(r.TaxCodes) > 2,
		len(r.Buttons) > 5, len(r.QuickReplies) > 10,
		r.Failover != nil && !r.Failover.validFast():
		return false
	}
	if it := r.Item; it != nil {
		if len(it.List) < 1 || len(it.List) > 10 || (it.Summary != nil && !it.Summary.validFast()) {
			return false
		}
		for k := range it.List {
			if !it.List[k].validFast() {
				return false
			}
		}
	}
	for _, t := range r.TaxCodes {
		if !runes(t, 0, 50) {
			return false
		}
	}
	for k := range r.Buttons {
		if !r.Buttons[k].validFast() {
			return false
		}
	}
	for k := range r.QuickReplies {
		if !r.QuickReplies[k].validFast() {
			return false
		}
	}
	return true
}
