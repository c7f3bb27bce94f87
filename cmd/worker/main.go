// Command worker is talkrelay's delivery worker. See --help.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/talkrelay/talkrelay/internal/cliparse"
	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/logging"
	"github.com/talkrelay/talkrelay/internal/natsconn"
	"github.com/talkrelay/talkrelay/internal/tracing"
	"github.com/talkrelay/talkrelay/internal/worker"
)

const description = `Consumes send jobs from NATS JetStream, sends them in batches through the
configured provider accounts and publishes one result event per recipient,
then, for accounts whose reports are on (accounts[].reports), one delivery
report per accepted recipient (talkrelay.reports.<account>.<state>.<job>).

With no settings at all it starts an embedded NATS server (JetStream under
./data, listening on 127.0.0.1:4222) and serves one sandbox account named
"sandbox", so 'enqueue' can send to it at once; the sandbox reports every
accepted message delivered (or fallback_sent) two seconds later.

Configuration comes from the YAML file given by --config (see
config.example.yaml for every field and its default), then the environment
(NATS_URL, NATS_CREDS, NATS_NKEY, NATS_USER, NATS_PASSWORD, NATS_TOKEN), then
these flags. Provider credentials are read from the environment or files
named in the config, never from jobs.

Delivery reports are polled per account (reports.enabled); with webhook.addr
set the worker also receives NHN's result-update webhook on
POST /hooks/<account>, for accounts with a webhook_signature credential. On a
Kakao account with reports on, an AlimTalk Kakao answers 100 (in progress) is
accepted without a lookup: its outcome comes as its report.

Traces are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, over gRPC when
OTEL_EXPORTER_OTLP_PROTOCOL (or _TRACES_PROTOCOL) is grpc, as the other
standard OTEL_* variables say (OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS,
OTEL_SERVICE_NAME, ...); unset, nothing is exported.

An external NATS server must take messages as large as worker.max_job_bytes
(its max_payload is 1 MiB unless raised); the worker warns when it does not.

At start-up each account is checked against its provider (credentials
accepted; the account's sender listed and not blocked or dormant): an
account that fails is held, its jobs left in the stream, /readyz names it
and why, and it is checked again every minute; the others are served.
--check-config --online runs the same checks once and prints them.

SIGINT/SIGTERM stop pulling, finish in-flight batches within
worker.shutdown_grace, store their results within as long again, and exit 0:
within 2 × worker.shutdown_grace, whatever the providers or NATS do. Exit
codes: 0 after a clean shutdown or a good --check-config, 1 on an error or
an account that fails --check-config --online (a
config error names FILE:LINE and the field), 2 on a wrong command line.`

type cli struct {
	Config      string           `short:"c" env:"TALKRELAY_CONFIG" placeholder:"FILE" help:"YAML config file. Default: none (embedded NATS, sandbox account)."`
	NATSURL     string           `name:"nats-url" env:"NATS_URL" placeholder:"URL" help:"NATS server URL(s), comma separated. Empty: run the embedded server."`
	DataDir     string           `env:"TALKRELAY_DATA_DIR" placeholder:"DIR" help:"Embedded server's JetStream store (nats.embedded.store_dir; default ./data)."`
	HTTPAddr    string           `name:"http-addr" env:"TALKRELAY_HTTP_ADDR" placeholder:"HOST:PORT" help:"Listen address of /healthz, /readyz and /metrics (http.addr; default 127.0.0.1:8080; \"off\" disables)."`
	LogLevel    string           `env:"TALKRELAY_LOG_LEVEL" enum:",debug,info,warn,error" default:"" help:"Log level: debug, info, warn, error (log.level; default info)."`
	LogFormat   string           `env:"TALKRELAY_LOG_FORMAT" enum:",json,console,auto" default:"" help:"Log format: json, console, auto = console on a terminal (log.format; default auto)."`
	CheckConfig bool             `help:"Load and validate the configuration, build the provider accounts, print them on standard output, then exit."`
	Online      bool             `help:"With --check-config: also ask each account's provider whether it can send (credentials accepted; sender listed, not blocked or dormant; daily quota), one line per account; exit 1 if one cannot."`
	Version     kong.VersionFlag `help:"Print the version and exit."`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs the worker with args (without the program name) and returns
// the exit code: 0 after a clean shutdown, 1 on an error, 2 on a wrong
// command line.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var c cli
	if _, code, ok := cliparse.Parse("worker", &c, args, stdout, stderr, kong.Description(description)); !ok {
		return code
	}
	if err := run(ctx, c, stdout); err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, c cli, stdout io.Writer) error {
	cfg, err := config.Load(c.Config)
	if err != nil {
		return err
	}
	if c.NATSURL != "" {
		if err := natsconn.CheckURLs(c.NATSURL); err != nil {
			return fmt.Errorf("--nats-url: %w", err)
		}
		cfg.NATS.URL = c.NATSURL
	}
	if c.DataDir != "" {
		cfg.NATS.Embedded.StoreDir = c.DataDir
	}
	switch c.HTTPAddr {
	case "":
	case "off":
		cfg.HTTP.Addr = ""
	default:
		cfg.HTTP.Addr = c.HTTPAddr
	}
	if c.LogLevel != "" {
		cfg.Log.Level = c.LogLevel
	}
	if c.LogFormat != "" {
		cfg.Log.Format = c.LogFormat
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	if c.CheckConfig && c.Online {
		return worker.CheckAccountsOnline(ctx, cfg, nil, stdout)
	}
	if c.CheckConfig {
		advice, err := worker.CheckAccounts(cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, configOK(cfg))
		for _, s := range advice {
			fmt.Fprintln(stdout, "warning: "+s)
		}
		return nil
	}
	var opts worker.Options
	tp, err := tracing.Start(ctx, "talkrelay-worker")
	if err != nil {
		return err
	}
	if tp != nil {
		defer func() {
			flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(flush); err != nil {
				log.Warn().Err(err).Msg("traces not all exported")
			}
		}()
		opts.Tracer = tp.Tracer("github.com/talkrelay/talkrelay/worker")
		log.Info().Msg("exporting traces over OTLP (OTEL_* environment)")
	}
	return worker.Run(ctx, cfg, log, opts)
}

// configOK is what --check-config prints: the accounts it built.
func configOK(cfg *config.Config) string {
	names := make([]string, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		names[i] = a.Name + " (" + a.Provider + ")"
	}
	noun := "accounts"
	if len(names) == 1 {
		noun = "account"
	}
	return fmt.Sprintf("config ok: %d %s: %s", len(names), noun, strings.Join(names, ", "))
}
