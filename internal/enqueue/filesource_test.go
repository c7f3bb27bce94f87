package enqueue

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
)

func TestOpensValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want bool
	}{
		{`{`, true},
		{`{"version": 1,`, true},
		{`{"a": "}"`, true},
		{`{"a": "\"}"`, true},
		{`{"a": 1}`, false},
		{`{"a": [1, 2]}`, false},
		{`{"a": "x",}`, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		if got := opensValue([]byte(tt.line)); got != tt.want {
			t.Errorf("opensValue(%s) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestRanges(t *testing.T) {
	t.Parallel()
	missing := []int{0, 3, 4, 5, 7, 8, 9, 10} // of 12, 1, 2, 6 and 11 have results
	if got, want := ranges(missing, 8), "0, 3-5, 7-10"; got != want {
		t.Errorf("ranges = %q, want %q", got, want)
	}
	if got, want := ranges(missing, 2), "0, 3-5, ..."; got != want {
		t.Errorf("ranges(.., 2) = %q, want %q", got, want)
	}
}

var reportLine = regexp.MustCompile(`^in:(\d+): `)

// FuzzFileSource feeds arbitrary input to the jobs file reader: it must not
// panic, must publish only valid jobs, and must report every problem
// against a line of the input.
func FuzzFileSource(f *testing.F) {
	for _, name := range []string{"job-alimtalk.json", "job-friendtalk.json", "job-item-list.json", "job-template-variables.json"} {
		data, err := readExample(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(append(append([]byte("[\n"), data...), "\n]"...))
		var b bytes.Buffer
		_ = compactInto(&b, data)
		f.Add(append(b.Bytes(), '\n'))
	}
	f.Add([]byte(ndjson(3, "f")))
	f.Add([]byte("{\n\"a\": [1,\n"))
	f.Add([]byte("[{}, 1, \"x\", null]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		s := &fileSource{name: "in", r: bytes.NewReader(data), closer: io.NopCloser(nil), con: newConsole(&out, false), stats: sourceStats{InvalidUnit: "job"}}
		var published int
		stats, err := s.Run(context.Background(), func(_ context.Context, j pubJob) error {
			published++
			if _, err := job.Decode(j.Data); err != nil {
				t.Errorf("published an invalid job: %v", err)
			}
			return nil
		})
		lines := bytes.Count(data, []byte("\n")) + 1
		var reports []string
		for l := range strings.Lines(out.String()) {
			reports = append(reports, l)
		}
		if err != nil {
			reports = append(reports, err.Error())
		}
		for _, r := range reports {
			m := reportLine.FindStringSubmatch(r)
			if m == nil {
				t.Fatalf("report without a line: %q", r)
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
				t.Errorf("report names line %d of %d: %q", n, lines, r)
			}
		}
		if len(reports) < stats.Invalid {
			t.Errorf("%d invalid, %d reports", stats.Invalid, len(reports))
		}
	})
}
