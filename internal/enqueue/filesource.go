package enqueue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/talkrelay/talkrelay/internal/job"
)

// maxLine is the longest NDJSON line read; a job is capped far below by
// the jobs stream's max message size anyway.
const maxLine = 64 << 20

// fileSource reads jobs from a JSON document stream. Three layouts are
// recognised from the start of the input:
//
//   - '[': a JSON array of jobs, decoded element by element;
//   - a first line that holds a whole JSON value: NDJSON, one job per line.
//     A line that is not JSON is reported and skipped like any invalid job;
//   - otherwise (a '{' line that opens an object it does not close): one or
//     more pretty-printed jobs one after the other.
//
// In the array and pretty-printed layouts a JSON syntax error ends the
// reading, since the decoder cannot find the next job after it.
// Memory holds one job at a time plus what awaits its PubAck.
type fileSource struct {
	name   string
	r      io.Reader
	closer io.Closer
	con    *console

	stats sourceStats
}

func (r *runner) fileSource(con *console) (source, error) {
	in, name, size, closer, err := openInput(r.cli.File, r.stdin)
	if err != nil {
		return nil, err
	}
	con.startBar(size, true, "reading "+name)
	return &fileSource{name: name, r: countingReader{r: in, c: con}, closer: closer, con: con, stats: sourceStats{InvalidUnit: "job"}}, nil
}

func (s *fileSource) Close() error { return s.closer.Close() }

func (s *fileSource) Run(ctx context.Context, publish publishFunc) (sourceStats, error) {
	err := s.run(ctx, publish)
	s.con.endBar()
	return s.stats, err
}

func (s *fileSource) run(ctx context.Context, publish publishFunc) error {
	br := bufio.NewReaderSize(s.r, 64<<10)
	// Skip the leading white space, counting lines.
	line := 1
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil // empty input: nothing to do
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		if !isSpace(c) {
			_ = br.UnreadByte()
			break
		}
		if c == '\n' {
			line++
		}
	}
	first, _ := br.Peek(1)
	if first[0] == '[' {
		return s.decodeStream(ctx, publish, br, line, true)
	}
	head, err := br.ReadBytes('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("read %s: %w", s.name, err)
	}
	rest := io.MultiReader(bytes.NewReader(head), br)
	if opensValue(head) {
		return s.decodeStream(ctx, publish, rest, line, false)
	}
	return s.readLines(ctx, publish, bufio.NewReaderSize(rest, 64<<10), line)
}

// readLines handles NDJSON: one job per line, blank lines skipped.
func (s *fileSource) readLines(ctx context.Context, publish publishFunc, br *bufio.Reader, line int) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for n := line; sc.Scan(); n++ {
		doc := bytes.TrimSpace(sc.Bytes())
		if len(doc) == 0 {
			continue
		}
		if err := s.handle(ctx, publish, n, doc); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.name, err)
	}
	return nil
}

// decodeStream handles a JSON array of jobs (array true) or a sequence of
// JSON values.
func (s *fileSource) decodeStream(ctx context.Context, publish publishFunc, r io.Reader, line int, array bool) error {
	lt := &lineTracker{r: r, line: line}
	dec := json.NewDecoder(lt)
	syntax := func(err error) error {
		var se *json.SyntaxError
		at := dec.InputOffset()
		if errors.As(err, &se) {
			at = se.Offset
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			at, err = lt.read, errors.New("unexpected end of input")
		}
		s.stats.Invalid++
		return fmt.Errorf("%s:%d: not JSON, stopped reading: %w", s.name, lt.lineAt(at), err)
	}
	if array {
		if _, err := dec.Token(); err != nil { // the '['
			return syntax(err)
		}
	}
	for {
		if array && !dec.More() {
			break
		}
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if !array && err == io.EOF {
			return nil
		}
		if err != nil {
			return syntax(err)
		}
		// raw starts at the value's first byte and the decoder stops right
		// after its last one.
		start := dec.InputOffset() - int64(len(raw))
		if err := s.handle(ctx, publish, lt.lineAt(start), raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return syntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s:%d: unexpected data after the array of jobs", s.name, lt.lineAt(dec.InputOffset()))
	}
	return nil
}

// handle validates one job document and publishes it, compacted.
func (s *fileSource) handle(ctx context.Context, publish publishFunc, line int, doc []byte) error {
	j, err := job.Decode(doc)
	if err != nil {
		s.stats.Invalid++
		s.con.Printf("%s:%d: %s\n", s.name, line, invalidJob(err))
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(doc))
	if err := json.Compact(&buf, doc); err != nil {
		// Unreachable: the schema validator parsed it.
		return fmt.Errorf("%s:%d: compact job: %w", s.name, line, err)
	}
	return publish(ctx, pubJob{ID: j.ID, Account: j.Account, Kind: string(j.Kind), Urgent: j.Urgent(), Recipients: len(j.Recipients), Data: buf.Bytes(),
		At: fmt.Sprintf("%s:%d", s.name, line)})
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// opensValue reports whether line opens a JSON object or array that it
// does not close: the first line of a pretty-printed document. It counts
// brackets outside strings; it does not validate.
func opensValue(line []byte) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range line {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return depth > 0
}

// lineTracker passes reads through and maps input offsets to line numbers.
// Queries must come in increasing offset order; it remembers only the
// newlines read but not yet queried past, so memory stays bounded by the
// decoder's read-ahead.
type lineTracker struct {
	r        io.Reader
	read     int64   // bytes read so far
	newlines []int64 // offsets of newlines not yet passed by lineAt
	line     int     // line number at the last lineAt offset
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			t.newlines = append(t.newlines, t.read+int64(i))
		}
	}
	t.read += int64(n)
	return n, err
}

// lineAt returns the line number of the byte at offset.
func (t *lineTracker) lineAt(offset int64) int {
	i := 0
	for i < len(t.newlines) && t.newlines[i] < offset {
		i++
	}
	t.line += i
	t.newlines = t.newlines[i:]
	if len(t.newlines) == 0 {
		t.newlines = t.newlines[:0:0] // let the old backing array go
	}
	return t.line
}
