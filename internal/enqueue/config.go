package enqueue

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/talkrelay/talkrelay/internal/natsconn"
)

// CLI is the command line of enqueue. Exactly one input mode is used:
// --file, --csv with --job, or the job flags (--account, --to, ...).
type CLI struct {
	NATS natsconn.Flags `embed:"" group:"NATS connection"`

	File string `short:"f" placeholder:"FILE" group:"Input: jobs file" help:"Jobs to publish: one JSON job (may span many lines), a JSON array of jobs, or NDJSON (one job per line). '-' reads standard input."`

	CSV              string `placeholder:"FILE" group:"Input: campaign" help:"Campaign recipients: CSV with a header row. Column phone is required; ref, country_code, content, title and header fill those recipient fields; every other column is a template variable (a 'var.' prefix is stripped, so var.phone names a variable called phone). '-' reads standard input."`
	Job              string `placeholder:"FILE" group:"Input: campaign" help:"Campaign job template: a job JSON without recipients (absent or []), or with exactly one recipient without phone whose fields are every row's defaults. Its job fields, priority among them, are every job's. Job n (from 1) gets the id <template id>-<n> and holds data rows (n-1)*R+1..n*R, so re-running the same CSV within the duplicate window publishes nothing twice. A job with an invalid row is held back (see --skip-invalid): fix the rows in place and run again, and only the held-back jobs are published."`
	RecipientsPerJob int    `name:"recipients-per-job" default:"1000" placeholder:"N" group:"Input: campaign" help:"Recipients per job (R), 1..100000."`
	SkipInvalid      bool   `name:"skip-invalid" group:"Input: campaign" help:"Publish a job without its invalid rows instead of holding it back. Its id is then taken: rows fixed later are not sent by running the same campaign again (use a new template id)."`

	ID           string   `group:"Input: one job from flags" help:"Job id, the idempotency key (default: a random id)."`
	Account      string   `group:"Input: one job from flags" help:"Account name from the worker config."`
	Kind         string   `default:"alimtalk" enum:"alimtalk,friendtalk,brandmessage" group:"Input: one job from flags" help:"Message kind: alimtalk, friendtalk or brandmessage (Brand Message, FriendTalk's successor: always an ad, one message for every recipient)."`
	Sender       string   `group:"Input: one job from flags" help:"Sender profile (default: the account's sender)."`
	Template     string   `group:"Input: one job from flags" help:"Template code (required for alimtalk)."`
	To           []string `placeholder:"PHONE" group:"Input: one job from flags" help:"Recipient phone number; repeat or separate with commas for several."`
	CountryCode  string   `name:"country-code" group:"Input: one job from flags" help:"Country code of the recipients (default: 82)."`
	Content      string   `group:"Input: one job from flags" help:"Full message text, exactly as the template renders it (brandmessage: the brand's text)."`
	Var          []string `placeholder:"NAME=VALUE" sep:"none" group:"Input: one job from flags" help:"Template variable; repeat for several."`
	Title        string   `group:"Input: one job from flags" help:"Emphasised title (emphasis-type templates)."`
	Header       string   `group:"Input: one job from flags" help:"Header (item-list templates)."`
	Ad           bool     `group:"Input: one job from flags" help:"Advertisement (FriendTalk)."`
	Priority     string   `placeholder:"normal|urgent" group:"Input: one job from flags" help:"Job priority: an urgent job (an OTP, a password reset) is published to talkrelay.jobs.<account>.<kind>.urgent and overtakes the account's queued normal jobs (default: normal). In a jobs file or a campaign template, set the job's priority field instead."`
	ReserveAt    string   `name:"reserve-at" placeholder:"RFC3339" group:"Input: one job from flags" help:"Deliver at this time, e.g. 2026-11-21T09:00:00+09:00 (default: now)."`
	Deadline     string   `placeholder:"RFC3339" group:"Input: one job from flags" help:"Do not send after this time."`
	Failover     string   `placeholder:"SMS|LMS|auto" group:"Input: one job from flags" help:"Fall back to SMS/LMS when KakaoTalk delivery fails; auto lets the provider choose."`
	FailoverFrom string   `name:"failover-from" placeholder:"PHONE" group:"Input: one job from flags" help:"Registered calling number for the fallback."`
	Metadata     string   `placeholder:"JSON" group:"Input: one job from flags" help:"Free-form JSON object echoed in every result event."`

	Brand     string   `placeholder:"JSON|@FILE" group:"Input: one Brand Message from flags" help:"The brand object of a brandmessage (schemas/job.v1.schema.json), as JSON or @FILE: every bubble type, carousel and commerce included. The flags below set or override its fields."`
	Bubble    string   `placeholder:"TYPE" group:"Input: one Brand Message from flags" help:"Bubble type: TEXT, IMAGE, WIDE, WIDE_ITEM_LIST, PREMIUM_VIDEO, COMMERCE, CAROUSEL_FEED or CAROUSEL_COMMERCE."`
	Targeting string   `placeholder:"M|N|I" group:"Input: one Brand Message from flags" help:"M: users who agreed to your ads; N: those of them who are not channel friends; I: channel friends (default: I)."`
	ImageURL  string   `name:"image-url" placeholder:"URL" group:"Input: one Brand Message from flags" help:"URL of an image uploaded to the provider (IMAGE, WIDE, COMMERCE)."`
	ImageLink string   `name:"image-link" placeholder:"URL" group:"Input: one Brand Message from flags" help:"Where a tap on the image leads."`
	Button    []string `placeholder:"TYPE,NAME[,URL]" sep:"none" group:"Input: one Brand Message from flags" help:"A button, e.g. 'WL,Shop now,https://m.example.com' (the URL is the mobile link); repeat for several."`

	Wait    bool          `group:"Results" help:"Wait for one result event per recipient of every job published by this run and print them: a table on a terminal, JSON lines otherwise."`
	Reports bool          `group:"Results" help:"With --wait: then wait for the delivery report (delivered, failed, fallback_sent, fallback_failed, expired) of every accepted recipient and print them too."`
	Timeout time.Duration `default:"5m" placeholder:"DURATION" group:"Results" help:"How long --wait waits for the results (and --reports for the reports) after the last publish."`

	MaxPending  int  `name:"max-pending" default:"1000" placeholder:"N" group:"Publishing" help:"Publishes awaiting their acknowledgement at most, 1..4000."`
	MaxJobBytes int  `name:"max-job-bytes" default:"4194304" placeholder:"BYTES" group:"Publishing" help:"Refuse a job larger than this, as the worker would (its worker.max_job_bytes). A job larger than the NATS server's max_payload is refused too."`
	DryRun      bool `name:"dry-run" group:"Publishing" help:"Validate and print what would be published, one JSON line per job (subject, nats_msg_id, recipients, bytes, job), without connecting to NATS."`

	Version kong.VersionFlag `help:"Print the version and exit."`
}

// mode is the input mode chosen on the command line.
type mode int

const (
	modeFile mode = iota + 1
	modeCampaign
	modeFlags
)

// flagsModeSet reports whether any of the one-job flags was given.
func (c *CLI) flagsModeSet() bool {
	return c.ID != "" || c.Account != "" || c.Sender != "" || c.Template != "" || len(c.To) > 0 ||
		c.CountryCode != "" || c.Content != "" || len(c.Var) > 0 || c.Title != "" || c.Header != "" ||
		c.Ad || c.Priority != "" || c.ReserveAt != "" || c.Deadline != "" || c.Failover != "" || c.FailoverFrom != "" || c.Metadata != "" ||
		c.brandFlagsSet()
}

// mode returns the input mode, or an error naming the flags that conflict
// or are missing.
func (c *CLI) mode() (mode, error) {
	if c.Priority != "" && (c.File != "" || c.CSV != "" || c.Job != "") {
		return 0, errors.New(`--priority: only for a job from flags; in a jobs file or a campaign template (--job) set the job's "priority" field`)
	}
	var modes []string
	if c.File != "" {
		modes = append(modes, "--file")
	}
	if c.CSV != "" || c.Job != "" {
		modes = append(modes, "--csv/--job")
	}
	if c.flagsModeSet() {
		modes = append(modes, "the job flags (--account, --to, ...)")
	}
	switch {
	case len(modes) == 0:
		return 0, errors.New("nothing to enqueue: give --file FILE, --csv FILE with --job FILE, or --account and --to for one job")
	case len(modes) > 1:
		return 0, fmt.Errorf("use one input mode, not %s", strings.Join(modes, " and "))
	case c.File != "":
		return modeFile, nil
	case c.CSV != "" || c.Job != "":
		if c.CSV == "" || c.Job == "" {
			return 0, errors.New("--csv and --job go together: the CSV lists the recipients, the job file is the template")
		}
		return modeCampaign, nil
	default:
		return modeFlags, nil
	}
}

// Validate checks the values kong cannot; kong calls it after parsing.
func (c *CLI) Validate() error {
	if _, err := c.mode(); err != nil {
		return err
	}
	if c.RecipientsPerJob < 1 || c.RecipientsPerJob > 100000 {
		return fmt.Errorf("--recipients-per-job: %d is out of range 1..100000", c.RecipientsPerJob)
	}
	if c.MaxPending < 1 || c.MaxPending > 4000 {
		return fmt.Errorf("--max-pending: %d is out of range 1..4000", c.MaxPending)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout: %s must be positive", c.Timeout)
	}
	if c.MaxJobBytes < 1024 {
		return fmt.Errorf("--max-job-bytes: %d is below 1024", c.MaxJobBytes)
	}
	if c.Reports && !c.Wait {
		return errors.New("--reports: only with --wait")
	}
	if c.DryRun && c.Wait {
		return errors.New("--dry-run publishes nothing, so there is nothing to --wait for")
	}
	if c.SkipInvalid && c.CSV == "" {
		return errors.New("--skip-invalid: only for a campaign (--csv with --job)")
	}
	if c.CSV == "-" && c.Job == "-" {
		return errors.New("--csv and --job cannot both read standard input")
	}
	nc := c.NATS.Config()
	if nc.URL == "" {
		return errors.New("--nats-url: empty; enqueue connects to a running server (default nats://127.0.0.1:4222)")
	}
	if err := natsconn.CheckURLs(nc.URL); err != nil {
		return fmt.Errorf("--nats-url: %w", err)
	}
	if err := nc.Validate(); err != nil {
		return fmt.Errorf("NATS flags: %w", err)
	}
	return nil
}

// helpValue adds the default and the environment variable to a flag's help.
func helpValue(v *kong.Value) string {
	var extra []string
	if v.HasDefault && v.Default != "" && v.Tag.Type != "counter" && v.Target.Kind().String() != "bool" {
		extra = append(extra, "default: "+v.Default)
	}
	for _, e := range v.Tag.Envs {
		extra = append(extra, "$"+e)
	}
	if len(extra) == 0 {
		return v.Help
	}
	return v.Help + " (" + strings.Join(extra, "; ") + ")"
}
