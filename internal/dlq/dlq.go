// Package dlq is the dead-letter CLI: it lists the dead letters of stream
// TALKRELAY_DLQ with filters by account, reason and time, shows one with
// its headers, reason and job (phone numbers masked), and replays dead
// letters to the subjects their jobs were published to, under the job's
// own id (so the worker's duplicate check applies) or, with --new-id, under
// a new one.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/internal/cliparse"
	"github.com/talkrelay/talkrelay/internal/natsconn"
)

// Exit codes.
const (
	// ExitOK: done (replay: every selected dead letter was published, or
	// with --dry-run would be).
	ExitOK = 0
	// ExitFailed: NATS, a dead letter that cannot be replayed, a failed
	// publish, or a replay not confirmed.
	ExitFailed = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
)

// CLI is the command line of dlq.
type CLI struct {
	NATS natsconn.Flags `embed:"" group:"NATS connection"`
	JSON bool           `name:"json" help:"Print JSON lines instead of a table or text."`

	List   ListCmd   `cmd:"" help:"List dead letters, oldest first: stream sequence, time, account, job id, reason."`
	Show   ShowCmd   `cmd:"" help:"Show one dead letter: every header, the reason, the size and the job (phone numbers masked)."`
	Replay ReplayCmd `cmd:"" help:"Publish dead letters again to the jobs subject they came from, after a fix."`

	Version kong.VersionFlag `help:"Print the version and exit."`
}

// FilterFlags select dead letters.
type FilterFlags struct {
	Account string `placeholder:"NAME" help:"Only this account's dead letters (subject talkrelay.dlq.<account>)."`
	Reason  string `placeholder:"PREFIX" help:"Only reasons starting with this, e.g. invalid_job, unknown_account, oversized, deadline_exceeded, poison, or a count of recipients (\"2 recipient(s) ended without delivery\")."`
	Since   string `placeholder:"TIME" help:"Only dead letters stored at or after this time: RFC 3339 (2026-11-30T09:00:00+09:00) or a duration ago (90m, 24h)."`
	Until   string `placeholder:"TIME" help:"Only dead letters stored at or before this time (as --since)."`
}

func (f *FilterFlags) set() bool {
	return f.Account != "" || f.Reason != "" || f.Since != "" || f.Until != ""
}

func (f *FilterFlags) filter(now time.Time) (Filter, error) {
	var out Filter
	var err error
	out.Account, out.Reason = f.Account, f.Reason
	if out.Since, err = parseWhen(f.Since, now); err != nil {
		return out, fmt.Errorf("--since: %w", err)
	}
	if out.Until, err = parseWhen(f.Until, now); err != nil {
		return out, fmt.Errorf("--until: %w", err)
	}
	return out, nil
}

// parseWhen reads an RFC 3339 time or a duration before now; "" is zero.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration ago (90m, 24h)", s)
	}
	return now.Add(-d), nil
}

// ListCmd is "dlq list".
type ListCmd struct {
	FilterFlags `embed:""`
	Limit       int `placeholder:"N" help:"Print at most N dead letters (0: all)."`
}

// ShowCmd is "dlq show SEQ".
type ShowCmd struct {
	Seq uint64 `arg:"" name:"seq" help:"Stream sequence of the dead letter (from dlq list)."`
	Raw bool   `help:"Print the stored message data exactly as stored, phone numbers included, and nothing else: to fix a job and replay it with --body."`
}

// ReplayCmd is "dlq replay".
type ReplayCmd struct {
	Seqs        []uint64 `arg:"" optional:"" name:"seq" help:"Stream sequences of the dead letters to replay; or select them with the filters."`
	FilterFlags `embed:""`
	NewID       string `name:"new-id" placeholder:"SUFFIX" help:"Replay under the job id <id>-<SUFFIX> (the body's id rewritten): a deliberate resend of a job whose id already has results."`
	Body        string `placeholder:"FILE" help:"With one SEQ: publish this job (the fixed output of show --raw) instead of the stored one."`
	DryRun      bool   `name:"dry-run" help:"Print what would be published and publish nothing."`
	Yes         bool   `short:"y" help:"Do not ask for confirmation."`
	Delete      bool   `help:"Delete each dead letter once its replay is stored in the jobs stream."`
}

// Validate checks what kong cannot; kong calls it after parsing.
func (c *CLI) Validate() error {
	nc := c.NATS.Config()
	if nc.URL == "" {
		return errors.New("--nats-url: empty")
	}
	if err := natsconn.CheckURLs(nc.URL); err != nil {
		return fmt.Errorf("--nats-url: %w", err)
	}
	return nc.Validate()
}

// Validate checks the replay's selection.
func (r *ReplayCmd) Validate() error {
	switch {
	case len(r.Seqs) == 0 && !r.set():
		return errors.New("replay: give the SEQs to replay, or select them with --account, --reason, --since or --until")
	case len(r.Seqs) > 0 && r.set():
		return errors.New("replay: give SEQs or filters, not both")
	case r.Body != "" && len(r.Seqs) != 1:
		return errors.New("--body: replays one dead letter: give exactly one SEQ")
	case r.NewID != "" && !validSuffix(r.NewID):
		return fmt.Errorf("--new-id: %q: use letters, digits and . _ : @ = + -", r.NewID)
	case r.Delete && r.DryRun:
		return errors.New("--delete: nothing is replayed with --dry-run")
	}
	return nil
}

func validSuffix(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("._:@=+-", c)) {
			return false
		}
	}
	return s != ""
}

const description = `List, show and replay talkrelay's dead letters (stream TALKRELAY_DLQ).

Examples:
  dlq list --account shop --reason invalid_job --since 24h
  dlq show 42
  dlq show 42 --raw > job.json   # fix job.json, then:
  dlq replay 42 --body job.json --new-id fix1
  dlq replay --account shop --reason unknown_account --yes --delete

Replay publishes a dead letter's job to the jobs subject it came from, with
Nats-Msg-Id = its job id, so it keeps the id's idempotency: the recipients of
every dead-lettered job already have results, so within the jobs stream's
duplicate window NATS drops the replay, and a worker drops a job whose id has
results or send records from the last streams.jobs_duplicate_window (default
1h): it sends NOTHING. (Later the id counts as new: the job is sent, its
results beside the earlier ones.) To send a job again after a fix, use
--new-id SUFFIX: it goes out as job <id>-<SUFFIX>. A dead letter about some
recipients only (Talkrelay-Recipients) replays those recipients only. Each
replayed job is validated first; an invalid one is skipped.

Exit codes: 0 done, 1 a NATS error, a dead letter that cannot be replayed, a
failed publish or a replay not confirmed, 2 a wrong command line.`

// Main runs dlq with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	var cli CLI
	kctx, code, ok := cliparse.Parse("dlq", &cli, args, stdout, stderr,
		kong.Description(description), kong.ConfigureHelp(kong.HelpOptions{Compact: true}))
	if !ok {
		return code
	}
	now := time.Now()
	var f Filter
	var err error
	switch cmd := strings.Fields(kctx.Command())[0]; cmd {
	case "list":
		f, err = cli.List.filter(now)
		f.Limit = cli.List.Limit
	case "replay":
		f, err = cli.Replay.filter(now)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dlq: %v\n", err)
		return ExitUsage
	}

	cfg := cli.NATS.Config()
	nc, err := cfg.Connect("talkrelay-dlq", nats.MaxReconnects(10))
	if err != nil {
		fmt.Fprintf(stderr, "dlq: %v\n", err)
		return ExitFailed
	}
	defer nc.Close()
	js, err := cfg.JetStream(nc)
	if err != nil {
		fmt.Fprintf(stderr, "dlq: jetstream: %v\n", err)
		return ExitFailed
	}
	s, err := dlqStream(ctx, js)
	if err != nil {
		fmt.Fprintf(stderr, "dlq: %v\n", err)
		return ExitFailed
	}
	switch strings.Fields(kctx.Command())[0] {
	case "list":
		err = list(ctx, s, f, cli.JSON, stdout)
	case "show":
		err = show(ctx, s, cli.Show.Seq, cli.Show.Raw, cli.JSON, stdout)
	case "replay":
		r := &replayer{cmd: &cli.Replay, js: js, dlq: s, json: cli.JSON, stdin: stdin, stdout: stdout, stderr: stderr}
		err = r.run(ctx, f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dlq: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}
