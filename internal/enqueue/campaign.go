package enqueue

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/schemas"
)

// The campaign mode turns a job template and a CSV of recipients into jobs.
//
// The template is a job JSON whose "recipients" is absent, empty, or holds
// one recipient without "phone": that recipient's fields (buttons, content,
// variables, failover, ...) are every row's defaults, since the CSV cannot
// express buttons and the like. Its job-level fields, "priority" among them,
// are every job's: all the jobs of a campaign have the template's priority
// and go to its subject (the urgent one for "priority": "urgent"). The CSV
// only fills recipients, so it has no priority column; a column named
// priority is a template variable like any other.
//
// CSV columns (header row required, names matched case-insensitively):
// phone (required), ref, country_code, content, title, header. Every other
// column is a template variable named as in the header; a "var." prefix is
// stripped, so that var.phone names a variable called phone. An empty cell
// leaves its field or variable at the template's default (or absent).
//
// Job n (from 1) gets the id "<template id>-<n>" and holds the data rows at
// positions (n-1)*R+1 .. n*R, R being --recipients-per-job. The ids
// therefore depend only on the CSV's row positions and R: running the same
// campaign again within the jobs stream's duplicate window publishes
// nothing twice. A job with an invalid row is held back, not published, so
// that its id stays free: fixing the rows in place and running again
// publishes exactly the held-back jobs (the others are duplicates). With
// --skip-invalid it is published without its invalid rows instead, and its
// id is taken: rows fixed later need a new template id.

// placeholderPhone fills the template's recipient for checking the template
// alone.
const placeholderPhone = "01000000000"

// maxJobSuffix is the longest "-<n>" the template id is checked with.
const maxJobSuffix = "-9999999"

type campaignSource struct {
	csvName, jobName string
	r                io.Reader
	closer           io.Closer
	con              *console
	perJob           int
	skipInvalid      bool

	tmpl     job.Job       // the template, without recipients
	defaults job.Recipient // the template's recipient, if any

	stats sourceStats
	rows  int // data rows read
	jobs  int // jobs built
}

func (r *runner) campaignSource(con *console) (source, error) {
	s := &campaignSource{con: con, perJob: r.cli.RecipientsPerJob, skipInvalid: r.cli.SkipInvalid, stats: sourceStats{InvalidUnit: "row"}}
	if err := s.loadTemplate(r.cli.Job, r.stdin); err != nil {
		return nil, err
	}
	in, name, size, closer, err := openInput(r.cli.CSV, r.stdin)
	if err != nil {
		return nil, err
	}
	s.csvName, s.r, s.closer = name, countingReader{r: in, c: con}, closer
	con.startBar(size, true, "reading "+name)
	return s, nil
}

// loadTemplate reads and checks the job template.
func (s *campaignSource) loadTemplate(name string, stdin io.Reader) error {
	in, display, _, closer, err := openInput(name, stdin)
	if err != nil {
		return err
	}
	defer closer.Close()
	s.jobName = display
	data, err := io.ReadAll(io.LimitReader(in, maxLine))
	if err != nil {
		return fmt.Errorf("read job template %s: %w", display, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.tmpl); err != nil {
		return fmt.Errorf("%s: invalid job template: %w", display, err)
	}
	switch len(s.tmpl.Recipients) {
	case 0:
	case 1:
		s.defaults = s.tmpl.Recipients[0]
		if s.defaults.Phone != "" {
			return fmt.Errorf("%s: invalid job template: its recipient has a phone; the CSV gives the phones, the template's one recipient only the defaults", display)
		}
	default:
		return fmt.Errorf("%s: invalid job template: %d recipients; give none, or one without phone holding every row's defaults", display, len(s.tmpl.Recipients))
	}
	s.tmpl.Recipients = nil
	if s.tmpl.Version == 0 {
		s.tmpl.Version = job.Version
	}
	// Check the template alone: with the longest id suffix and a
	// placeholder recipient that is valid on its own.
	probe := s.tmpl
	probe.ID += maxJobSuffix
	rc := s.defaults
	rc.Phone = placeholderPhone
	if rc.Content == "" && len(rc.Variables) == 0 {
		rc.Content = "placeholder"
	}
	probe.Recipients = []job.Recipient{rc}
	doc, err := json.Marshal(&probe)
	if err != nil {
		return fmt.Errorf("%s: encode job template: %w", display, err)
	}
	if _, err := job.Decode(doc); err != nil {
		return fmt.Errorf("%s: %s (with id %q: the job ids are <id>-<n>)", display, strings.Replace(invalidJob(err), "invalid job", "invalid job template", 1), probe.ID)
	}
	return nil
}

func (s *campaignSource) Close() error { return s.closer.Close() }

// CSV column kinds.
const (
	colVar = iota
	colPhone
	colRef
	colCountry
	colContent
	colTitle
	colHeader
)

var knownColumns = map[string]int{
	"phone":        colPhone,
	"ref":          colRef,
	"country_code": colCountry,
	"content":      colContent,
	"title":        colTitle,
	"header":       colHeader,
}

type column struct {
	kind int
	name string // variable name, for colVar
}

// parseHeader maps the header row onto columns.
func parseHeader(header []string) ([]column, error) {
	cols := make([]column, len(header))
	seen := map[string]bool{}
	hasPhone := false
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // a BOM from spreadsheet exports
		}
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, fmt.Errorf("column %d has no name", i+1)
		}
		key := h
		if k, ok := knownColumns[strings.ToLower(h)]; ok {
			cols[i] = column{kind: k}
			key = strings.ToLower(h)
			hasPhone = hasPhone || k == colPhone
		} else {
			name := h
			if len(h) > 4 && strings.EqualFold(h[:4], "var.") {
				name = h[4:]
			}
			cols[i] = column{kind: colVar, name: name}
			key = "var." + name
		}
		if seen[key] {
			return nil, fmt.Errorf("column %q appears twice", h)
		}
		seen[key] = true
	}
	if !hasPhone {
		return nil, errors.New("no phone column")
	}
	return cols, nil
}

// chunk is the job being built.
type chunk struct {
	n     int      // job number, from 1
	body  []byte   // the recipients' JSON, comma separated
	spans [][2]int // each recipient's bytes in body
	lines []int    // each recipient's CSV line
	// first and last are the CSV lines of the chunk's first and last row,
	// valid or not; invalid counts its invalid rows.
	first, last, invalid int
}

func (s *campaignSource) Run(ctx context.Context, publish publishFunc) (sourceStats, error) {
	err := s.run(ctx, publish)
	s.con.endBar()
	return s.stats, err
}

func (s *campaignSource) run(ctx context.Context, publish publishFunc) error {
	cr := csv.NewReader(s.r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty CSV: a header row with a phone column is required", s.csvName)
	}
	if err != nil {
		return fmt.Errorf("%s: read header: %w", s.csvName, err)
	}
	cols, err := parseHeader(header)
	if err != nil {
		return fmt.Errorf("%s:1: header: %w", s.csvName, err)
	}
	cr.FieldsPerRecord = len(cols)

	c := &chunk{n: 1}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		s.rows++
		if n := (s.rows-1)/s.perJob + 1; n != c.n {
			if err := s.flush(ctx, publish, c); err != nil {
				return err
			}
			c = &chunk{n: n}
		}
		if err != nil {
			var pe *csv.ParseError
			line := 0
			if errors.As(err, &pe) {
				line = pe.StartLine
				err = pe.Err
			}
			c.row(line)
			s.invalidRow(c, line, err.Error())
			continue
		}
		line, _ := cr.FieldPos(0)
		c.row(line)
		rc, err := s.recipient(cols, rec)
		if err != nil {
			s.invalidRow(c, line, err.Error())
			continue
		}
		data, err := json.Marshal(rc)
		if err != nil {
			s.invalidRow(c, line, err.Error())
			continue
		}
		if len(c.body) > 0 {
			c.body = append(c.body, ',')
		}
		c.spans = append(c.spans, [2]int{len(c.body), len(c.body) + len(data)})
		c.body = append(c.body, data...)
		c.lines = append(c.lines, line)
		if s.rows%1000 == 0 {
			s.con.describe(fmt.Sprintf("%d rows, %d jobs", s.rows, s.jobs))
		}
	}
	return s.flush(ctx, publish, c)
}

// row notes a row of the chunk at a CSV line.
func (c *chunk) row(line int) {
	if c.first == 0 {
		c.first = line
	}
	c.last = max(c.last, line)
}

func (s *campaignSource) invalidRow(c *chunk, line int, reason string) {
	s.stats.Invalid++
	c.invalid++
	s.con.Printf("%s:%d: invalid row: %s\n", s.csvName, line, reason)
}

// recipient builds the recipient of one CSV row over the template's
// defaults.
func (s *campaignSource) recipient(cols []column, rec []string) (*job.Recipient, error) {
	rc := s.defaults // a shallow copy; Variables is copied below when written
	copied := false
	for i, v := range rec {
		if v == "" {
			continue
		}
		switch cols[i].kind {
		case colPhone:
			rc.Phone = strings.TrimSpace(v)
		case colRef:
			rc.Ref = v
		case colCountry:
			rc.CountryCode = strings.TrimSpace(v)
		case colContent:
			rc.Content = v
		case colTitle:
			rc.Title = v
		case colHeader:
			rc.Header = v
		case colVar:
			if !copied {
				rc.Variables = maps.Clone(s.defaults.Variables)
				if rc.Variables == nil {
					rc.Variables = make(map[string]string, len(cols))
				}
				copied = true
			}
			rc.Variables[cols[i].name] = v
		}
	}
	if rc.Phone == "" {
		return nil, errors.New("no phone")
	}
	return &rc, nil
}

// flush validates the chunk's job and publishes it. The whole job is
// validated at once; only when that fails is each row validated on its own
// to find and report the bad ones, which keeps 100k rows fast.
func (s *campaignSource) flush(ctx context.Context, publish publishFunc, c *chunk) error {
	if len(c.spans) == 0 {
		return nil
	}
	id := s.tmpl.ID + "-" + strconv.Itoa(c.n)
	t := s.tmpl
	t.ID = id
	t.Recipients = []job.Recipient{}
	head, err := json.Marshal(&t)
	if err != nil {
		return fmt.Errorf("encode job %s: %w", t.ID, err)
	}
	// Recipients is the last field of job.Job: cut the empty array's "]}"
	// and splice the rows in.
	if !bytes.HasSuffix(head, []byte(`"recipients":[]}`)) {
		return fmt.Errorf("encode job %s: recipients is not the last field", t.ID)
	}
	head = head[:len(head)-2]
	doc := assemble(head, c.body)
	count := len(c.spans)
	if err := schemas.ValidateJob(doc); err != nil {
		var body []byte
		var kept int
		for i, sp := range c.spans {
			rec := c.body[sp[0]:sp[1]]
			if err := schemas.ValidateJob(assemble(head, rec)); err != nil {
				s.invalidRow(c, c.lines[i], rowReason(err))
				continue
			}
			if len(body) > 0 {
				body = append(body, ',')
			}
			body = append(body, rec...)
			kept++
		}
		if kept == 0 {
			return nil
		}
		doc = assemble(head, body)
		if err := schemas.ValidateJob(doc); err != nil {
			// Not a row's fault, and the template check should have caught it.
			s.stats.Invalid += kept
			s.con.Printf("%s: job %s (rows from line %d): invalid job: %s\n", s.jobName, t.ID, c.lines[0], redact(err.Error()))
			return nil
		}
		count = kept
	}
	if c.invalid > 0 && !s.skipInvalid {
		s.stats.HeldBack++
		s.con.Printf("%s:%d-%d: job %s held back (%s of %d): fix them in place and run again to publish it; the jobs published now are then skipped as duplicates (--skip-invalid publishes it without them)\n",
			s.csvName, c.first, c.last, id, plural(c.invalid, "invalid row"), c.invalid+count)
		return nil
	}
	s.jobs++
	return publish(ctx, pubJob{ID: t.ID, Account: t.Account, Kind: string(t.Kind), Urgent: t.Urgent(), Recipients: count, Data: doc,
		At: fmt.Sprintf("%s:%d", s.csvName, c.first)})
}

// assemble closes the recipients array of a job head around body.
func assemble(head, body []byte) []byte {
	doc := make([]byte, 0, len(head)+len(body)+2)
	doc = append(doc, head...)
	doc = append(doc, body...)
	return append(doc, "]}"...)
}

// rowReason rewrites a one-recipient job's schema error for a row.
func rowReason(err error) string {
	return strings.ReplaceAll(redact(err.Error()), "/recipients/0", "recipient")
}
