// Command admin administers the provider accounts of the worker's config
// file: NHN Cloud senders, sender groups, FriendTalk images and fallback
// settings; NAVER SENS channels and templates. Run "admin --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/talkrelay/talkrelay/internal/admin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := admin.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
