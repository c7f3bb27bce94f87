// Command dlq lists, shows and replays talkrelay's dead letters (stream
// TALKRELAY_DLQ). Run "dlq --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/talkrelay/talkrelay/internal/dlq"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dlq.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
