// Command enqueue publishes talkrelay send jobs to NATS JetStream from a
// jobs file, a CSV campaign or flags, and optionally waits for their
// results. Run "enqueue --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/talkrelay/talkrelay/internal/enqueue"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := enqueue.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
