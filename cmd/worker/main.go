// Command worker is talkrelay's delivery worker. See --help.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/logging"
	"github.com/talkrelay/talkrelay/internal/worker"
)

const description = `Consumes send jobs from NATS JetStream, sends them in batches through the
configured provider accounts and publishes one result event per recipient.

With no settings at all it starts an embedded NATS server (JetStream under
./data, listening on 127.0.0.1:4222) and serves one sandbox account named
"sandbox", so 'enqueue' can send to it at once.

Configuration comes from the YAML file given by --config (see
config.example.yaml for every field and its default), then the environment
(NATS_URL, NATS_CREDS, NATS_NKEY, NATS_USER, NATS_PASSWORD, NATS_TOKEN), then
these flags. Provider credentials are read from the environment or files
named in the config, never from jobs.

SIGINT/SIGTERM stop pulling, finish in-flight batches within
worker.shutdown_grace, store their results within as long again, and exit 0:
within 2 × worker.shutdown_grace, whatever the providers or NATS do.`

type cli struct {
	Config      string `short:"c" env:"TALKRELAY_CONFIG" type:"existingfile" placeholder:"FILE" help:"YAML config file. Default: none (embedded NATS, sandbox account)."`
	NATSURL     string `name:"nats-url" env:"NATS_URL" placeholder:"URL" help:"NATS server URL(s), comma separated. Empty: run the embedded server."`
	DataDir     string `env:"TALKRELAY_DATA_DIR" placeholder:"DIR" help:"Embedded server's JetStream store (nats.embedded.store_dir; default ./data)."`
	HTTPAddr    string `name:"http-addr" env:"TALKRELAY_HTTP_ADDR" placeholder:"HOST:PORT" help:"Listen address of /healthz, /readyz and /metrics (http.addr; default 127.0.0.1:8080; \"off\" disables)."`
	LogLevel    string `env:"TALKRELAY_LOG_LEVEL" enum:",debug,info,warn,error" default:"" help:"Log level: debug, info, warn, error (log.level; default info)."`
	LogFormat   string `env:"TALKRELAY_LOG_FORMAT" enum:",json,console,auto" default:"" help:"Log format: json, console, auto = console on a terminal (log.format; default auto)."`
	CheckConfig bool   `help:"Load and validate the configuration, build the provider accounts, then exit."`
}

func main() {
	var c cli
	kong.Parse(&c, kong.Name("worker"), kong.Description(description), kong.UsageOnError())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c cli) error {
	cfg, err := config.Load(c.Config)
	if err != nil {
		return err
	}
	if c.NATSURL != "" {
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
		return fmt.Errorf("config: %w", err)
	}
	log, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	if c.CheckConfig {
		if err := worker.CheckAccounts(cfg); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "config ok: %d account(s)\n", len(cfg.Accounts))
		return nil
	}
	return worker.Run(ctx, cfg, log, worker.Options{})
}
