// Package enqueue is the talkrelay producer CLI: it reads send jobs from a
// file, a CSV campaign or command-line flags, validates each against the job
// schema, publishes it to JetStream with its id as Nats-Msg-Id, and with
// --wait prints the result event of every recipient.
package enqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/term"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/cliparse"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Exit codes.
const (
	// ExitOK: every job was published (with --dry-run: valid); with --wait,
	// every recipient's result is accepted.
	ExitOK = 0
	// ExitFailed: some jobs or rows were invalid or too large, a publish
	// failed, or --wait timed out.
	ExitFailed = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
	// ExitNotAccepted: with --wait, everything was published and every
	// recipient has a result, but not every result is accepted.
	ExitNotAccepted = 3
)

// Main runs enqueue with args (without the program name) and returns the
// process exit code. Errors and the summary go to stderr; result events to
// stdout.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	if len(args) > 0 && args[0] == "cancel" {
		return cancelMain(ctx, args[1:], stdout, stderr)
	}
	var cli CLI
	if _, code, ok := cliparse.Parse("enqueue", &cli, args, stdout, stderr,
		kong.Description("Publish talkrelay send jobs to NATS JetStream, and optionally wait for their results.\n\n"+
			"Examples:\n"+
			"  enqueue -f jobs.ndjson\n"+
			"  enqueue --csv recipients.csv --job campaign.json --wait\n"+
			"  enqueue cancel --account shop order-1234   (see enqueue cancel --help)\n"+
			"  "+helpExample+"\n\n"+
			"Exit codes: 0 all published (with --wait: every recipient accepted), 1 invalid or too large input, a failed publish or a --wait timeout, 2 a wrong command line, 3 with --wait: some recipient's result is not accepted."),
		kong.ValueFormatter(helpValue),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
	); !ok {
		return code
	}
	r := &runner{
		cli:    &cli,
		stdin:  stdin,
		stdout: stdout,
		stderr: stderr,
		outTTY: isTerminal(stdout),
		errTTY: isTerminal(stderr),
	}
	code, err := r.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "enqueue: %v\n", err)
		return ExitFailed
	}
	return code
}

// helpExample is the one-job example of --help; it works against the
// worker's default sandbox account, which needs the full text (--content).
const helpExample = `enqueue --account sandbox --template OTP_CODE --to 01012345678 --content "[Talkrelay] Your code is 482913." --priority urgent --wait`

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// runner is one run of enqueue.
type runner struct {
	cli            *CLI
	stdin          io.Reader
	stdout, stderr io.Writer
	outTTY, errTTY bool
}

// run reads the input, validates every job, publishes the valid ones
// (connecting at the first) and waits if asked. It returns the exit code.
func (r *runner) run(ctx context.Context) (code int, err error) {
	m, err := r.cli.mode()
	if err != nil {
		return ExitFailed, err
	}
	con := newConsole(r.stderr, r.errTTY)
	// Read what needs no NATS first, so that a typo fails fast.
	var src source
	switch m {
	case modeFile:
		src, err = r.fileSource(con)
	case modeCampaign:
		src, err = r.campaignSource(con)
	case modeFlags:
		src, err = r.flagsSource(con)
	}
	if err != nil {
		return ExitFailed, err
	}
	defer src.Close()

	s := &sink{cli: r.cli, con: con, stdout: r.stdout}
	defer s.close()
	stats, err := src.Run(ctx, s.publish)
	pstats := s.finish()
	tooLarge := ""
	if s.tooLarge > 0 {
		tooLarge = fmt.Sprintf(", %d too large", s.tooLarge)
	}
	if r.cli.DryRun {
		con.Printf("enqueue: dry run: %s valid (%s), %s%s; nothing published\n",
			plural(pstats.Stored, "job"), plural(pstats.StoredRecipients, "recipient"), plural(stats.Invalid, "invalid "+stats.InvalidUnit), tooLarge)
	} else {
		con.Printf("enqueue: %s published (%s), %s skipped, %s, %d failed%s\n",
			plural(pstats.Stored, "job"), plural(pstats.StoredRecipients, "recipient"), plural(pstats.Duplicates, "duplicate"),
			plural(stats.Invalid, "invalid "+stats.InvalidUnit), pstats.Failed, tooLarge)
	}
	if stats.HeldBack > 0 {
		con.Printf("enqueue: %s held back for invalid rows\n", plural(stats.HeldBack, "job"))
	}
	if err != nil {
		return ExitFailed, err
	}
	ok := stats.Invalid == 0 && pstats.Failed == 0 && s.tooLarge == 0
	if s.w == nil {
		return exitCode(ok, true), nil
	}
	if ctx.Err() != nil {
		return ExitFailed, ctx.Err()
	}
	complete, err := s.w.wait(ctx, r.cli.Timeout, r.stdout, r.outTTY, con)
	if err != nil {
		return ExitFailed, err
	}
	if !complete {
		return ExitFailed, nil
	}
	return exitCode(ok, s.w.allAccepted()), nil
}

func exitCode(ok, accepted bool) int {
	switch {
	case !ok:
		return ExitFailed
	case !accepted:
		return ExitNotAccepted
	}
	return ExitOK
}

// plural says "1 job", "2 jobs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// sink takes the valid jobs of a source: it refuses the ones too large to
// publish, and prints the rest (--dry-run) or publishes them, connecting
// to NATS at the first.
type sink struct {
	cli    *CLI
	con    *console
	stdout io.Writer

	tooLarge int
	dry      publishStats // --dry-run's counts

	nc         *nats.Conn
	maxPayload int64
	p          *publisher
	w          *waiter
}

func (s *sink) publish(ctx context.Context, j pubJob) error {
	if len(j.Data) > s.cli.MaxJobBytes {
		s.refuse(j, fmt.Sprintf("over --max-job-bytes %d (the worker's worker.max_job_bytes would reject it as oversized)", s.cli.MaxJobBytes))
		return nil
	}
	if s.cli.DryRun {
		return s.print(j)
	}
	if s.p == nil {
		if err := s.connect(ctx); err != nil {
			return err
		}
	}
	if int64(len(j.Data)) > s.maxPayload {
		s.refuse(j, fmt.Sprintf("over the NATS server's max_payload %d (raise it in the server's config)", s.maxPayload))
		return nil
	}
	return s.p.Publish(ctx, j)
}

func (s *sink) refuse(j pubJob, why string) {
	s.tooLarge++
	s.con.Printf("%sjob %s is %d bytes, %s; split it into smaller jobs\n", j.where(), j.ID, len(j.Data), why)
}

// dryRunLine is what --dry-run prints for each job.
type dryRunLine struct {
	Subject    string          `json:"subject"`
	MsgID      string          `json:"nats_msg_id"`
	Recipients int             `json:"recipients"`
	Bytes      int             `json:"bytes"`
	Job        json.RawMessage `json:"job"`
}

func (s *sink) print(j pubJob) error {
	line, err := json.Marshal(dryRunLine{Subject: j.subject(), MsgID: j.ID, Recipients: j.Recipients, Bytes: len(j.Data), Job: j.Data})
	if err != nil {
		return fmt.Errorf("%sjob %s: %w", j.where(), j.ID, err)
	}
	s.con.clearBar()
	if _, err := s.stdout.Write(append(line, '\n')); err != nil {
		return err
	}
	s.dry.Stored++
	s.dry.StoredRecipients += j.Recipients
	return nil
}

// connect connects to NATS, checks the streams and, for --wait, pins the
// results stream's position before the first publish (see waiter).
func (s *sink) connect(ctx context.Context) error {
	cfg := s.cli.NATS.Config()
	nc, err := cfg.Connect("talkrelay-enqueue", nats.MaxReconnects(10))
	if err != nil {
		return err
	}
	s.nc, s.maxPayload = nc, nc.MaxPayload()
	js, err := cfg.JetStream(nc,
		jetstream.WithPublishAsyncMaxPending(4000),
		jetstream.WithPublishAsyncTimeout(client.PublishTimeout),
	)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := streams.Check(ctx, js); err != nil {
		return err
	}
	c := client.New(js)
	if s.cli.Wait {
		if s.w, err = newWaiter(ctx, c, s.cli.Reports); err != nil {
			return err
		}
	}
	s.p = newPublisher(c, s.cli.MaxPending, s.con)
	if s.w != nil {
		s.p.onStored = s.w.track
		s.p.onDuplicate = s.w.duplicate
	}
	return nil
}

// finish waits for every outstanding ack and returns the counts.
func (s *sink) finish() publishStats {
	if s.p == nil {
		return s.dry
	}
	return s.p.Close()
}

func (s *sink) close() {
	if s.nc != nil {
		s.nc.Close()
	}
}
