package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
)

// listLine is what list prints per dead letter with --json.
type listLine struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Account    string    `json:"account"`
	JobID      string    `json:"job_id"`
	Reason     string    `json:"reason"`
	Recipients []int     `json:"recipients,omitempty"`
}

func list(ctx context.Context, s jetstream.Stream, f Filter, asJSON bool, w io.Writer) error {
	var tw *tabwriter.Writer
	if !asJSON {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tACCOUNT\tJOB\tREASON")
	}
	err := scan(ctx, s, f, func(l *Letter) error {
		if asJSON {
			b, err := json.Marshal(listLine{l.Seq, l.Time.UTC(), l.Account, l.JobID, l.Reason, l.Recipients})
			if err != nil {
				return err
			}
			_, err = w.Write(append(b, '\n'))
			return err
		}
		_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", l.Seq, l.Time.UTC().Format(time.RFC3339), l.Account, orDash(l.JobID), oneLine(l.Reason))
		return err
	})
	if tw != nil {
		if ferr := tw.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// showDoc is what show prints with --json.
type showDoc struct {
	Seq        uint64              `json:"seq"`
	Time       time.Time           `json:"time"`
	Account    string              `json:"account"`
	JobID      string              `json:"job_id"`
	Subject    string              `json:"subject"`
	Reason     string              `json:"reason"`
	Recipients []int               `json:"recipients,omitempty"`
	Headers    map[string][]string `json:"headers"`
	Size       int                 `json:"size"`
	DataBytes  int                 `json:"data_bytes"`
	// Job is the stored job with its phone numbers masked; absent when the
	// data is not JSON (Note says so).
	Job  json.RawMessage `json:"job,omitempty"`
	Note string          `json:"note,omitempty"`
}

func show(ctx context.Context, s jetstream.Stream, seq uint64, raw, asJSON bool, w io.Writer) error {
	l, err := get(ctx, s, seq)
	if err != nil {
		return err
	}
	if raw {
		_, err := w.Write(l.Data)
		return err
	}
	doc := showDoc{Seq: l.Seq, Time: l.Time.UTC(), Account: l.Account, JobID: l.JobID, Subject: l.Subject,
		Reason: l.Reason, Recipients: l.Recipients, Headers: l.Header, Size: l.Size, DataBytes: len(l.Data)}
	switch masked, ok := maskJSON(l.Data); {
	case len(l.Data) == 0:
		doc.Note = "no data: the job's bytes were left out (see the reason)"
	case !ok:
		doc.Note = "the data is not JSON; not shown, since it may hold phone numbers (show --raw prints it)"
	default:
		doc.Job = masked
	}
	if asJSON {
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "seq:        %d\ntime:       %s\naccount:    %s\njob id:     %s\nsubject:    %s\nreason:     %s\n",
		l.Seq, doc.Time.Format(time.RFC3339), l.Account, orDash(l.JobID), l.Subject, l.Reason)
	if l.Recipients != nil {
		fmt.Fprintf(&b, "recipients: %v (only these; the rest of the job has its results)\n", l.Recipients)
	}
	fmt.Fprintf(&b, "size:       %d bytes (%d of data)\nheaders:\n", l.Size, len(l.Data))
	for _, k := range slices.Sorted(maps.Keys(l.Header)) {
		for _, v := range l.Header[k] {
			fmt.Fprintf(&b, "  %s: %s\n", k, v)
		}
	}
	if doc.Note != "" {
		fmt.Fprintf(&b, "job: %s\n", doc.Note)
	} else {
		b.WriteString("job (phone numbers masked):\n")
		if err := json.Indent(&b, doc.Job, "", "  "); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	_, err = w.Write(b.Bytes())
	return err
}

// maskJSON returns data, a JSON document, with the value of every "phone"
// field masked as result events mask phone numbers; ok is false when data
// is not JSON.
func maskJSON(data []byte) (masked json.RawMessage, ok bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if len(data) == 0 || d.Decode(&v) != nil {
		return nil, false
	}
	out, err := json.Marshal(maskPhones(v))
	if err != nil {
		return nil, false
	}
	return out, true
}

func maskPhones(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if s, isStr := x.(string); isStr && k == "phone" {
				t[k] = job.MaskPhone(strings.ReplaceAll(s, "-", ""))
			} else {
				t[k] = maskPhones(x)
			}
		}
	case []any:
		for i := range t {
			t[i] = maskPhones(t[i])
		}
	}
	return v
}
