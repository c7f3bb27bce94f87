package enqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/cliparse"
	"github.com/talkrelay/talkrelay/internal/natsconn"
)

// CancelCLI is the command line of `enqueue cancel`.
type CancelCLI struct {
	NATS natsconn.Flags `embed:"" group:"NATS connection"`

	Account string        `required:"" help:"Account the jobs were published to (the <account> of their subject)."`
	JobIDs  []string      `arg:"" name:"JOB_ID" help:"Ids of the jobs to cancel."`
	Timeout time.Duration `default:"30s" placeholder:"DURATION" help:"How long to wait for a worker's answer, per job."`
	JSON    bool          `name:"json" help:"Print each worker's answer as one JSON line (schemas/cancel-reply.v1.schema.json) instead of a sentence."`

	Version kong.VersionFlag `help:"Print the version and exit."`
}

// cancelMain runs `enqueue cancel` with args (after "cancel").
func cancelMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cli CancelCLI
	if _, code, ok := cliparse.Parse("enqueue cancel", &cli, args, stdout, stderr,
		kong.Description("Cancel talkrelay jobs: what has not been sent yet is not sent, and each such recipient gets the final result canceled.\n\n"+
			"A worker serving the account answers each request (subject talkrelay.cancel.<account>). It stores a cancel marker that every worker checks before it sends: "+
			"recipients waiting for a retry and reservations talkrelay holds end canceled at once, a queued job when a worker takes it, a pending lookup is still made and what it proves untaken ends canceled; "+
			"reservations a provider holds (NAVER, NHN) are cancelled at the provider. A recipient that already has a result keeps it: the answer counts it too late. "+
			"Cancelling a job again, or one no worker has seen, is answered, not an error: a job of that id published later is canceled too.\n\n"+
			"Examples:\n"+
			"  enqueue cancel --account shop order-1234 order-1235\n"+
			"  enqueue cancel --account shop --json order-1234\n\n"+
			"Exit codes: 0 every job's cancel is stored and nothing was too late, 1 a NATS error, no worker serving the account or a worker error, 2 a wrong command line, 3 some recipient was too late (it keeps its result)."),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	); !ok {
		return code
	}
	cfg := cli.NATS.Config()
	nc, err := cfg.Connect("talkrelay-enqueue-cancel", nats.MaxReconnects(10))
	if err != nil {
		fmt.Fprintf(stderr, "enqueue cancel: %v\n", err)
		return ExitFailed
	}
	defer nc.Close()
	js, err := cfg.JetStream(nc)
	if err != nil {
		fmt.Fprintf(stderr, "enqueue cancel: jetstream: %v\n", err)
		return ExitFailed
	}
	c := client.New(js)
	code := ExitOK
	for _, id := range cli.JobIDs {
		reply, err := cancelOne(ctx, c, cli.Account, id, cli.Timeout)
		if err != nil {
			fmt.Fprintf(stderr, "enqueue cancel: %s: %v\n", id, err)
			code = ExitFailed
			continue
		}
		if cli.JSON {
			line, _ := json.Marshal(reply)
			fmt.Fprintf(stdout, "%s\n", line)
		} else {
			fmt.Fprintf(stdout, "%s: %s%s\n", id, reply.Message, resultCounts(reply.Results))
		}
		switch {
		case reply.Outcome == client.CancelInvalid || reply.Outcome == client.CancelError:
			code = ExitFailed
		case reply.TooLate > 0 && code == ExitOK:
			code = ExitNotAccepted
		}
	}
	return code
}

// cancelOne asks a worker serving account to cancel job id, waiting at
// most timeout.
func cancelOne(ctx context.Context, c *client.Client, account, id string, timeout time.Duration) (*client.CancelReply, error) {
	ctx, done := context.WithTimeout(ctx, timeout)
	defer done()
	return c.Cancel(ctx, account, id)
}

// resultCounts writes results as " (accepted 2, canceled 1)", or "".
func resultCounts(results map[client.Status]int) string {
	if len(results) == 0 {
		return ""
	}
	parts := make([]string, 0, len(results))
	for s, n := range results {
		parts = append(parts, fmt.Sprintf("%s %d", s, n))
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}
