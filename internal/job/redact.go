package job

import "regexp"

// phoneErrRE finds a quoted value in a schema violation of a phone field,
// and the pattern it does not match: jsonschema quotes the offending value
// in pattern errors, and an invalid phone may still be a real number.
var phoneErrRE = regexp.MustCompile(`(/phone: [^;']*)'((?:[^'\\]|\\.)*)'( does not match pattern '[^']*')?`)

// RedactPhones masks the phone numbers that a schema error message quotes
// and says in words what a phone number is, so that the message can be
// shown and logged.
func RedactPhones(msg string) string {
	return phoneErrRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := phoneErrRE.FindStringSubmatch(m)
		out := sub[1] + "'" + maskInvalidPhone(sub[2]) + "'"
		if sub[3] != "" {
			out += " is not a phone number (6 to 20 digits and hyphens, starting with a digit)"
		}
		return out
	})
}

// maskInvalidPhone masks a value that is not a valid phone number: every
// character that is not a digit stays, since it is likely the mistake; of
// the digits, a value longer than 7 characters keeps its first 3 and last
// 4 characters, as MaskPhone does, and a shorter one none.
func maskInvalidPhone(p string) string {
	b := []byte(p)
	for i, c := range b {
		if c < '0' || c > '9' {
			continue
		}
		if len(b) > 7 && (i < 3 || i >= len(b)-4) {
			continue
		}
		b[i] = '*'
	}
	return string(b)
}
