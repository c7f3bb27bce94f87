package dlq

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// replayer is one run of "dlq replay".
type replayer struct {
	cmd            *ReplayCmd
	js             jetstream.JetStream
	dlq            jetstream.Stream
	json           bool
	stdin          io.Reader
	stdout, stderr io.Writer
}

// replay is the replay of one dead letter.
type replay struct {
	letter     *Letter
	Seq        uint64 `json:"seq"`
	Subject    string `json:"subject,omitempty"`
	JobID      string `json:"job_id,omitempty"`
	Recipients int    `json:"recipients,omitempty"`
	// Status: "planned" (--dry-run), "published", "duplicate" (NATS still
	// knew the id: nothing stored), "failed" or "skipped" (cannot be
	// replayed).
	Status    string `json:"status"`
	StreamSeq uint64 `json:"stream_seq,omitempty"`
	Deleted   bool   `json:"deleted,omitempty"`
	Note      string `json:"note,omitempty"`
	msg       *nats.Msg
}

func (r *replayer) run(ctx context.Context, f Filter) error {
	var letters []*Letter
	if len(r.cmd.Seqs) > 0 {
		for _, seq := range r.cmd.Seqs {
			l, err := get(ctx, r.dlq, seq)
			if err != nil {
				return err
			}
			letters = append(letters, l)
		}
	} else if err := scan(ctx, r.dlq, f, func(l *Letter) error { letters = append(letters, l); return nil }); err != nil {
		return err
	}
	if len(letters) == 0 {
		fmt.Fprintln(r.stderr, "dlq: no dead letter matches; nothing replayed")
		return nil
	}
	var body []byte
	if r.cmd.Body != "" {
		var err error
		if body, err = os.ReadFile(r.cmd.Body); err != nil {
			return fmt.Errorf("--body: %w", err)
		}
	}
	plans := make([]*replay, len(letters))
	ready := 0
	for i, l := range letters {
		p := &replay{letter: l, Seq: l.Seq}
		if err := p.build(body, r.cmd.NewID); err != nil {
			p.Status, p.Note = "skipped", err.Error()
		} else {
			p.Status = "planned"
			p.Note = r.traces(ctx, p)
			ready++
		}
		plans[i] = p
	}
	if !r.cmd.DryRun && !r.cmd.Yes && ready > 0 {
		for _, p := range plans {
			fmt.Fprintln(r.stderr, p.line())
		}
		fmt.Fprintf(r.stderr, "Replay %d dead letter(s)? [y/N] ", ready)
		answer, _ := bufio.NewReader(r.stdin).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(answer)); a != "y" && a != "yes" {
			return errors.New("not confirmed; nothing replayed")
		}
	}
	failed := ready < len(plans)
	for _, p := range plans {
		if p.Status == "planned" && !r.cmd.DryRun {
			r.publish(ctx, p)
			failed = failed || p.Status == "failed"
		}
		if err := r.print(p); err != nil {
			return err
		}
	}
	if failed {
		return errors.New("some dead letters were not replayed (see above)")
	}
	return nil
}

// build makes the message that replays p's dead letter: its job (body, if
// given, instead of the stored data), only the recipients it is about,
// under its job id or <id>-<newID>, to the jobs subject it came from.
func (p *replay) build(body []byte, newID string) error {
	l := p.letter
	data := l.Data
	if body != nil {
		data = body
	}
	if len(data) == 0 {
		return errors.New("the job's bytes were left out of this dead letter (see its reason): nothing to replay")
	}
	_, _, urgent, fromJobs := streams.ParseJobSubject(l.Subject)
	fromRetry := strings.HasPrefix(l.Subject, streams.RetryPrefix+".")
	if !fromJobs && !fromRetry {
		return fmt.Errorf("Talkrelay-Subject %q is not a jobs or retry subject", l.Subject)
	}
	selected := false
	if fromRetry {
		if env, err := retry.Decode(data); err == nil {
			// A retry envelope (rejected, or poison, in a retry round):
			// its job holds the round's recipients, Pending their indexes.
			data, selected = envelopeJob(env, l.Recipients), true
		}
	}
	if (l.Recipients != nil && !selected) || newID != "" {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(data, &doc); err != nil {
			return errors.New("the job is not a JSON object: fix it with --body")
		}
		if l.Recipients != nil && !selected {
			if err := selectRecipients(doc, l.Recipients, fromRetry); err != nil {
				return err
			}
		}
		if newID != "" {
			base := l.JobID
			if base == "" {
				_ = json.Unmarshal(doc["id"], &base)
			}
			if base == "" {
				return errors.New("the job has no id to add --new-id to: give it one with --body")
			}
			doc["id"], _ = json.Marshal(base + "-" + newID)
		}
		var err error
		if data, err = json.Marshal(doc); err != nil {
			return err
		}
	}
	j, err := job.Decode(data)
	if err != nil {
		return fmt.Errorf("the job is still invalid (%s): fix it with show --raw and --body", job.RedactPhones(err.Error()))
	}
	if newID == "" && l.JobID != "" && j.ID != l.JobID {
		return fmt.Errorf("--body changes the job id from %q to %q: keep it, and use --new-id for a new one", l.JobID, j.ID)
	}
	p.JobID, p.Recipients = j.ID, len(j.Recipients)
	p.Subject = l.Subject
	if fromRetry {
		// The recipients a retry round left: they go back as a job of
		// their own to the account's jobs subject, in the same lane.
		p.Subject = streams.JobSubjectFor(j.Account, string(j.Kind), urgent || strings.HasSuffix(l.Subject, "."+streams.UrgentSuffix))
	}
	m := nats.NewMsg(p.Subject)
	m.Data = data
	for k, v := range l.Header {
		if !strings.HasPrefix(k, "Talkrelay-") && !strings.HasPrefix(k, "Nats-") {
			m.Header[k] = v
		}
	}
	m.Header.Set(jetstream.MsgIDHeader, j.ID)
	p.msg = m
	if j.Deadline != nil && j.Deadline.Before(time.Now()) {
		return fmt.Errorf("its deadline %s has passed: a worker would fail it again (deadline_exceeded); change it with --body", j.Deadline.Format(time.RFC3339))
	}
	return nil
}

// envelopeJob is the job of env with the recipients at original indexes
// (all of them when indexes is nil).
func envelopeJob(env *retry.Envelope, indexes []int) []byte {
	part := *env.Job
	part.Recipients = nil
	for i, p := range env.Pending {
		if indexes == nil || slices.Contains(indexes, p.Index) {
			part.Recipients = append(part.Recipients, env.Job.Recipients[i])
		}
	}
	data, err := part.Encode()
	if err != nil {
		panic(err) // only our own types
	}
	return data
}

// selectRecipients keeps in doc the recipients at indexes. The data of a
// dead letter from a retry round (fromRetry) holds that round's recipients
// only, not the whole job: then they must be exactly the ones listed.
func selectRecipients(doc map[string]json.RawMessage, indexes []int, fromRetry bool) error {
	var all []json.RawMessage
	if err := json.Unmarshal(doc["recipients"], &all); err != nil {
		return errors.New("the job has no recipients array: fix it with --body")
	}
	if fromRetry {
		if len(all) != len(indexes) {
			return fmt.Errorf("the dead letter holds %d recipients of a retry round but is about %d (indexes %v): cannot tell which; keep only those with --body", len(all), len(indexes), indexes)
		}
		return nil
	}
	kept := make([]json.RawMessage, 0, len(indexes))
	for _, i := range indexes {
		if i >= len(all) {
			return fmt.Errorf("recipient index %d: the job has %d recipients", i, len(all))
		}
		kept = append(kept, all[i])
	}
	doc["recipients"], _ = json.Marshal(kept)
	return nil
}

// traces says what a worker will do with p's job id, from the results
// stored for it.
func (r *replayer) traces(ctx context.Context, p *replay) string {
	what := ""
	if p.letter.Recipients != nil {
		what = fmt.Sprintf("only recipients %v of the job (the rest have their results); ", p.letter.Recipients)
	}
	if r.cmd.NewID != "" {
		if p.letter.Recipients == nil {
			return what + "a new job id: every recipient of the job is sent again, one with an accepted result too"
		}
		return what + "a new job id: sent as a new job"
	}
	n, err := r.results(ctx, p)
	switch {
	case err != nil:
		return what + fmt.Sprintf("cannot count the results of its id (%v)", err)
	case n > 0:
		return what + fmt.Sprintf("its id has %d result(s) stored: a worker sends NOTHING for it if they were stored within streams.jobs_duplicate_window (default 1h); use --new-id SUFFIX to send it again", n)
	}
	return what + "its id has no results stored: it will be sent"
}

// results counts the results stored for p's job in its account.
func (r *replayer) results(ctx context.Context, p *replay) (uint64, error) {
	account, _, _, _ := streams.ParseJobSubject(p.Subject)
	return streams.SubjectCount(ctx, r.js, streams.ResultsStream, streams.JobResultsFilter(account, p.JobID))
}

func (r *replayer) publish(ctx context.Context, p *replay) {
	ack, err := r.js.PublishMsg(ctx, p.msg)
	switch {
	case err != nil:
		p.Status, p.Note = "failed", err.Error()
		return
	case ack.Duplicate:
		p.Status = "duplicate"
		p.Note = "the jobs stream still remembers this job id (its duplicate window): nothing stored, nothing will be sent; use --new-id SUFFIX to send it again"
		return
	}
	p.Status, p.StreamSeq = "published", ack.Sequence
	if r.cmd.Delete {
		if err := r.dlq.DeleteMsg(ctx, p.Seq); err != nil {
			p.Note += fmt.Sprintf("; dead letter not deleted: %v", err)
		} else {
			p.Deleted = true
		}
	}
}

func (p *replay) line() string {
	s := fmt.Sprintf("%d: %s", p.Seq, p.Status)
	if p.Subject != "" {
		s += fmt.Sprintf(" job %s (%d recipient(s)) to %s", p.JobID, p.Recipients, p.Subject)
	}
	if p.StreamSeq != 0 {
		s += fmt.Sprintf(" as jobs-stream seq %d", p.StreamSeq)
	}
	if p.Deleted {
		s += ", dead letter deleted"
	}
	if p.Note != "" {
		s += ": " + p.Note
	}
	return s
}

func (r *replayer) print(p *replay) error {
	if !r.json {
		_, err := fmt.Fprintln(r.stdout, p.line())
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = r.stdout.Write(append(b, '\n'))
	return err
}
