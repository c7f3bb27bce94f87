package enqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
)

// source produces the jobs of one input mode and publishes them.
type source interface {
	// Run publishes every valid job through p and reports the invalid
	// ones on stderr through its console. An error means the input could not be read to its end
	// (or ctx ended); what was read before is published.
	Run(ctx context.Context, publish publishFunc) (sourceStats, error)
	Close() error
}

// publishFunc publishes one job; the publisher's Publish in production.
// It returns an error only when the run must stop.
type publishFunc func(context.Context, pubJob) error

// sourceStats counts what a source skipped.
type sourceStats struct {
	Invalid int
	// InvalidUnit is what Invalid counts: "job" or "row".
	InvalidUnit string
	// HeldBack counts the campaign jobs not published for their invalid
	// rows.
	HeldBack int
}

// openInput opens name for reading; "-" is stdin. The returned name is the
// one to use in messages.
func openInput(name string, stdin io.Reader) (r io.Reader, display string, size int64, closer io.Closer, err error) {
	if name == "-" {
		return stdin, "stdin", -1, io.NopCloser(stdin), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", 0, nil, fmt.Errorf("open input: %w", err)
	}
	size = -1
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, name, size, f, nil
}

// phoneErrRE finds a quoted value in a schema violation of a phone field,
// and the pattern it does not match: jsonschema quotes the offending value
// in pattern errors, and an invalid phone may still be a real number.
var phoneErrRE = regexp.MustCompile(`(/phone: [^;']*)'((?:[^'\\]|\\.)*)'( does not match pattern '[^']*')?`)

// redact masks the phone numbers that a schema error message quotes and
// says in words what a phone number is.
func redact(msg string) string {
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
// 4 characters, as job.MaskPhone does, and a shorter one none.
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

// invalidJob formats a job.Decode error for "FILE:LINE: invalid job ...".
func invalidJob(err error) string {
	var je *job.Error
	if !errors.As(err, &je) {
		return "invalid job: " + redact(err.Error())
	}
	var b strings.Builder
	b.WriteString("invalid job")
	if je.ID != "" {
		b.WriteString(" " + je.ID)
	}
	b.WriteString(": ")
	if je.Err != nil {
		b.WriteString(redact(je.Err.Error()))
	} else {
		b.WriteString(je.Reason)
	}
	return b.String()
}
