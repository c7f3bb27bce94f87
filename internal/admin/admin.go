// Package admin is the admin command: it administers the provider
// accounts of the worker's config file through the providers' own
// administration APIs (NHN Cloud senders, sender groups, FriendTalk images
// and fallback settings; NAVER SENS channels and templates), with the
// account's credentials, so that no secret is typed twice.
package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/talkrelay/talkrelay/internal/cliparse"
	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/naver"
	"github.com/talkrelay/talkrelay/internal/providers/nhn"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Exit codes, for scripts.
const (
	// ExitOK: done.
	ExitOK = 0
	// ExitRefused: the provider refused the call (its code and message are
	// printed), or the input breaks a documented limit and was not sent.
	ExitRefused = 1
	// ExitUsage: the command line or the config file is wrong.
	ExitUsage = cliparse.ExitUsage
	// ExitUnavailable: the provider could not be reached, failed (5xx) or
	// throttled (429): the same call may succeed later.
	ExitUnavailable = 3
	// ExitNotFound: the sender, group, channel or template does not exist.
	ExitNotFound = 4
	// ExitNotConfirmed: a destructive call was not confirmed; nothing done.
	ExitNotConfirmed = 5
)

// CLI is the command line of admin.
type CLI struct {
	Config  string `short:"c" env:"TALKRELAY_CONFIG" required:"" placeholder:"FILE" help:"The worker's YAML config file: its accounts and credentials are used."`
	Account string `short:"a" placeholder:"NAME" help:"The account to act on; may be left out when the config has one account of the provider the command needs."`
	JSON    bool   `name:"json" help:"Print JSON (one document, stable: see README, \"Administer providers\") instead of a table."`
	Yes     bool   `short:"y" help:"Do not ask before a destructive call (delete, remove)."`

	Senders   SendersCmd   `cmd:"" help:"NHN Cloud sender profiles (AlimTalk Sender API)."`
	Groups    GroupsCmd    `cmd:"" help:"NHN Cloud sender groups."`
	Images    ImagesCmd    `cmd:"" help:"NHN Cloud FriendTalk images."`
	Fallback  FallbackCmd  `cmd:"" help:"NHN Cloud FriendTalk SMS fallback (failback) settings."`
	Channels  ChannelsCmd  `cmd:"" help:"NAVER SENS KakaoTalk channels."`
	Templates TemplatesCmd `cmd:"" help:"NAVER SENS AlimTalk templates."`

	Version kong.VersionFlag `help:"Print the version and exit."`
}

const description = `Administer the provider accounts of the worker's config file: NHN Cloud
senders, sender groups, FriendTalk images and fallback settings; NAVER SENS
channels and templates. Credentials come from the config (never typed).

Examples:
  admin -c config.yaml senders list --status YSC03
  admin -c config.yaml -a nhn-main senders get 3c4e...            # dormant? blocked? quota?
  admin -c config.yaml images upload banner.png                   # prints the imageSeq for jobs
  admin -c config.yaml -a naver-main templates get --channel @shop order_v1
  admin -c config.yaml senders delete 3c4e... --yes

Exit codes: 0 done, 1 the provider refused (its code and message are
printed with a hint) or the input breaks a documented limit, 2 a wrong
command line or config, 3 the provider is unreachable, failing or throttling
(try again), 4 not found, 5 a destructive call not confirmed.`

// env is what every command runs with.
type env struct {
	ctx    context.Context
	cli    *CLI
	cfg    *config.Config
	hc     *http.Client
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Main runs admin with args (without the program name) and returns the
// exit code. hc is the providers' HTTP client (nil: the default).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, hc *http.Client) int {
	var cli CLI
	kctx, code, ok := cliparse.Parse("admin", &cli, args, stdout, stderr,
		kong.Description(description), kong.ConfigureHelp(kong.HelpOptions{Compact: true}))
	if !ok {
		return code
	}
	cfg, err := config.Load(cli.Config)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "admin: %v\n", err)
		return ExitUsage
	}
	e := &env{ctx: ctx, cli: &cli, cfg: cfg, hc: hc, stdin: stdin, stdout: stdout, stderr: stderr}
	if err := kctx.Run(e); err != nil {
		return e.fail(err)
	}
	return ExitOK
}

// usageError is a wrong command line found after parsing (an account that
// does not fit the command).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

var errNotConfirmed = errors.New("not confirmed; nothing done (pass --yes to skip the question)")

// account picks the account a command of provider acts on.
func (e *env) account(provider string) (*config.Account, error) {
	var fits []string
	for i := range e.cfg.Accounts {
		a := &e.cfg.Accounts[i]
		if e.cli.Account != "" && a.Name == e.cli.Account {
			if a.Provider != provider {
				return nil, &usageError{fmt.Sprintf("--account %s is a %s account; this command needs a %s account", a.Name, a.Provider, provider)}
			}
			return a, nil
		}
		if a.Provider == provider {
			fits = append(fits, a.Name)
		}
	}
	switch {
	case e.cli.Account != "":
		return nil, &usageError{fmt.Sprintf("--account %s: no such account in %s", e.cli.Account, e.cli.Config)}
	case len(fits) == 1:
		return &e.cfg.Accounts[indexOf(e.cfg, fits[0])], nil
	case len(fits) == 0:
		return nil, &usageError{fmt.Sprintf("%s has no %s account", e.cli.Config, provider)}
	}
	sort.Strings(fits)
	return nil, &usageError{fmt.Sprintf("--account: required, %s has several %s accounts: %s", e.cli.Config, provider, strings.Join(fits, ", "))}
}

func indexOf(cfg *config.Config, name string) int {
	for i := range cfg.Accounts {
		if cfg.Accounts[i].Name == name {
			return i
		}
	}
	return -1
}

// client builds the provider client of the command's account.
func (e *env) client(provider string, factory providers.Factory) (providers.Provider, *config.Account, error) {
	a, err := e.account(provider)
	if err != nil {
		return nil, nil, err
	}
	creds, err := a.ResolveCredentials()
	if err != nil {
		return nil, nil, &usageError{e.cfg.Locate(err).Error()}
	}
	p, err := factory(providers.Spec{Account: a.Name, BaseURL: a.BaseURL, Credentials: creds,
		DecodeOptions: a.DecodeOptions, HTTPClient: e.hc})
	if err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	return p, a, nil
}

func (e *env) nhn() (*nhn.Client, *config.Account, error) {
	p, a, err := e.client(nhn.Name, nhn.New)
	if err != nil {
		return nil, nil, err
	}
	return p.(*nhn.Client), a, nil
}

func (e *env) naver() (*naver.Client, *config.Account, error) {
	p, a, err := e.client(naver.Name, naver.New)
	if err != nil {
		return nil, nil, err
	}
	return p.(*naver.Client), a, nil
}

// confirm asks before a destructive call unless --yes.
func (e *env) confirm(what string) error {
	if e.cli.Yes {
		return nil
	}
	fmt.Fprintf(e.stderr, "%s? [y/N] ", what)
	answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if a := strings.TrimSpace(strings.ToLower(answer)); a != "y" && a != "yes" {
		return errNotConfirmed
	}
	return nil
}

// failure is how an error is printed with --json.
type failure struct {
	Error struct {
		Provider   string `json:"provider,omitempty"`
		HTTPStatus int    `json:"httpStatus,omitempty"`
		Code       string `json:"code,omitempty"`
		CodeName   string `json:"codeName,omitempty"`
		Message    string `json:"message"`
		Hint       string `json:"hint,omitempty"`
		Exit       int    `json:"exit"`
	} `json:"error"`
}

// fail prints err (the provider's code and message and a hint) and
// returns its exit code.
func (e *env) fail(err error) int {
	var f failure
	fe := &f.Error
	fe.Message = err.Error()
	var pe *providers.Error
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fe.Exit = ExitUsage
	case errors.Is(err, errNotConfirmed):
		fe.Exit = ExitNotConfirmed
	case errors.Is(err, naver.ErrNotFound):
		fe.Exit, fe.Hint = ExitNotFound, "list what exists with \"channels list\" or \"templates list --channel ID\""
	case errors.As(err, &pe):
		fe.Provider, fe.HTTPStatus, fe.Code, fe.CodeName, fe.Message = pe.Provider, pe.HTTPStatus, pe.Code, pe.CodeName, pe.Message
		if pe.Err != nil {
			fe.Message = strings.TrimSpace(fe.Message + ": " + pe.Err.Error())
		}
		fe.Exit, fe.Hint = classify(pe, e.accountName())
	default:
		fe.Exit = ExitRefused
	}
	if e.cli.JSON {
		writeJSON(e.stdout, f)
	}
	msg := "admin: "
	if fe.Provider != "" {
		msg += fe.Provider + ": "
	}
	if fe.HTTPStatus != 0 {
		msg += fmt.Sprintf("HTTP %d: ", fe.HTTPStatus)
	}
	if fe.Code != "" {
		msg += "code " + fe.Code
		if fe.CodeName != "" {
			msg += " (" + fe.CodeName + ")"
		}
		msg += ": "
	}
	fmt.Fprintln(e.stderr, msg+fe.Message)
	if fe.Hint != "" {
		fmt.Fprintln(e.stderr, "hint: "+fe.Hint)
	}
	return fe.Exit
}

func (e *env) accountName() string {
	if e.cli.Account != "" {
		return e.cli.Account
	}
	return "<account>"
}

// classify turns a provider's error into an exit code and a hint.
func classify(pe *providers.Error, account string) (int, string) {
	switch {
	case pe.Reason == result.ReasonAuth:
		return ExitRefused, fmt.Sprintf("the provider refused the credentials: check accounts.%s.credentials and the app key or service id in its options", account)
	case pe.Class == providers.Retryable || pe.Class == providers.Unknown:
		return ExitUnavailable, "the provider is unreachable, failing or throttling: try again later"
	case pe.Reason == result.ReasonInvalidJob:
		return ExitRefused, "nothing was sent: fix the argument"
	case pe.Code == "-2017":
		return ExitNotFound, "list what exists with \"senders list\" (or the group's key with \"groups get\")"
	case pe.Code == "-4019":
		return ExitRefused, "the sender or group is not in a state that allows this: see \"senders get KEY\""
	}
	return ExitRefused, "see the provider's error code table for this code"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
