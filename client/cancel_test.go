package client_test

import (
	"errors"
	"testing"

	"github.com/talkrelay/talkrelay/client"
)

// Without a worker serving the account, Cancel says so (ErrNoWorker)
// instead of waiting for its context.
func TestCancelWithoutWorker(t *testing.T) {
	t.Parallel()
	_, err := client.New(withStreams(t)).Cancel(t.Context(), "shop", "order-1")
	if !errors.Is(err, client.ErrNoWorker) {
		t.Fatalf("Cancel: %v; want ErrNoWorker", err)
	}
}

// Canceled is a final status: Wait returns once every recipient has a
// result, canceled ones included.
func TestWaitEndsOnCanceled(t *testing.T) {
	t.Parallel()
	js := withStreams(t)
	publishResult(t, js, "c-1", 0, client.Accepted)
	publishResult(t, js, "c-1", 1, client.Canceled)
	got, err := client.New(js).Wait(t.Context(), "shop", "c-1", 2)
	if err != nil || summary(got) != "0:accepted 1:canceled" {
		t.Fatalf("Wait: %s, %v; want 0:accepted 1:canceled", summary(got), err)
	}
}
