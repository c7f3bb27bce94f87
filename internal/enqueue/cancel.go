package enqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/internal/cancel"
	"github.com/talkrelay/talkrelay/internal/cliparse"
	"github.com/talkrelay/talkrelay/internal/natsconn"
	"github.com/talkrelay/talkrelay/internal/streams"
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
			"queued jobs, recipients waiting for a retry and reservations talkrelay holds end canceled, a pending lookup is still made and what it proves untaken ends canceled; "+
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
	code := ExitOK
	for _, id := range cli.JobIDs {
		reply, err := requestCancel(ctx, nc, cli.Account, id, cli.Timeout)
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
		case reply.Outcome == cancel.Invalid || reply.Outcome == cancel.Error:
			code = ExitFailed
		case reply.TooLate > 0 && code == ExitOK:
			code = ExitNotAccepted
		}
	}
	return code
}

// requestCancel asks a worker serving account to cancel job id.
func requestCancel(ctx context.Context, nc *nats.Conn, account, id string, timeout time.Duration) (*cancel.Reply, error) {
	req, _ := json.Marshal(cancel.Request{Version: 1, JobID: id})
	ctx, done := context.WithTimeout(ctx, timeout)
	defer done()
	m, err := nc.RequestWithContext(ctx, streams.CancelSubject(account), req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("no worker serves account %q (nothing answers %s)", account, streams.CancelSubject(account))
	}
	if err != nil {
		return nil, err
	}
	var reply cancel.Reply
	if err := json.Unmarshal(m.Data, &reply); err != nil {
		return nil, fmt.Errorf("unreadable answer: %w", err)
	}
	return &reply, nil
}

// resultCounts writes results as " (accepted 2, canceled 1)", or "".
func resultCounts(results map[string]int) string {
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
