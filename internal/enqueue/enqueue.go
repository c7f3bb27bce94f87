// Package enqueue is the talkrelay producer CLI: it reads send jobs from a
// file, a CSV campaign or command-line flags, validates each against the job
// schema, publishes it to JetStream with its id as Nats-Msg-Id, and with
// --wait prints the result event of every recipient.
package enqueue

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/term"

	"github.com/talkrelay/talkrelay/internal/buildinfo"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Exit codes.
const (
	ExitOK = 0
	// ExitFailed: some jobs or rows were invalid, a publish failed, or
	// --wait timed out.
	ExitFailed = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
)

// exitPanic carries kong's exit code (after --help) out of Parse.
type exitPanic struct{ code int }

// Main runs enqueue with args (without the program name) and returns the
// process exit code. Errors and the summary go to stderr; result events to
// stdout.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("enqueue"),
		kong.Description("Publish talkrelay send jobs to NATS JetStream, and optionally wait for their results.\n\n"+
			"Examples:\n"+
			"  enqueue -f jobs.ndjson\n"+
			"  enqueue --csv recipients.csv --job campaign.json --wait\n"+
			"  enqueue --account sandbox --template OTP_CODE --to 01012345678 --var code=482913 --priority urgent --wait"),
		kong.Vars{"version": buildinfo.String("enqueue")},
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { panic(exitPanic{c}) }),
		kong.ValueFormatter(helpValue),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
	)
	if err != nil {
		fmt.Fprintf(stderr, "enqueue: %v\n", err)
		return ExitUsage
	}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(exitPanic)
			if !ok {
				panic(r)
			}
			code = e.code
		}
	}()
	if _, err := parser.Parse(args); err != nil {
		fmt.Fprintf(stderr, "enqueue: %v\nRun \"enqueue --help\" for usage.\n", err)
		return ExitUsage
	}
	r := &runner{
		cli:    &cli,
		stdin:  stdin,
		stdout: stdout,
		stderr: stderr,
		outTTY: isTerminal(stdout),
		errTTY: isTerminal(stderr),
	}
	ok, err := r.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "enqueue: %v\n", err)
		return ExitFailed
	}
	if !ok {
		return ExitFailed
	}
	return ExitOK
}

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

// run connects, publishes, waits if asked, and prints the summary. ok is
// false when anything was invalid, failed or missing.
func (r *runner) run(ctx context.Context) (ok bool, err error) {
	m, err := r.cli.mode()
	if err != nil {
		return false, err
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
		return false, err
	}
	defer src.Close()

	cfg := r.cli.NATS.Config()
	nc, err := cfg.Connect("talkrelay-enqueue", nats.MaxReconnects(10))
	if err != nil {
		return false, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4000),
		jetstream.WithPublishAsyncTimeout(publishTimeout),
	)
	if err != nil {
		return false, fmt.Errorf("jetstream: %w", err)
	}
	if err := streams.Check(ctx, js); err != nil {
		return false, err
	}

	var w *waiter
	if r.cli.Wait {
		// Pin the results stream's position before the first publish;
		// see waiter.
		if w, err = newWaiter(ctx, js); err != nil {
			return false, err
		}
	}

	p := newPublisher(ctx, js, r.cli.MaxPending, con)
	if w != nil {
		p.onStored = w.track
		p.onDuplicate = w.duplicate
	}
	stats, err := src.Run(ctx, p.Publish)
	pstats := p.Close()
	con.Printf("enqueue: %d jobs published (%d recipients), %d duplicates skipped, %d invalid %s, %d failed\n",
		pstats.Stored, pstats.StoredRecipients, pstats.Duplicates, stats.Invalid, stats.InvalidUnit, pstats.Failed)
	if err != nil {
		return false, err
	}
	ok = stats.Invalid == 0 && pstats.Failed == 0
	if w == nil {
		return ok, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	complete, err := w.wait(ctx, r.cli.Timeout, r.stdout, r.outTTY, con)
	if err != nil {
		return false, err
	}
	return ok && complete, nil
}
