package enqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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

// redact masks the phone numbers that a schema error message quotes.
func redact(msg string) string { return job.RedactPhones(msg) }

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
