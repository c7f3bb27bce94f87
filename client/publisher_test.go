package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/natstest"
)

// A Publisher reports every publish once, in the order of the calls, with
// its subject and duplicate flag; an invalid job is refused before it is
// sent; Flush waits for the reports.
func TestPublisherReportsInOrder(t *testing.T) {
	js := withStreams(t)
	c := client.New(js)
	ctx := t.Context()
	if _, err := c.Publish(ctx, testJob("bulk-3", 1)); err != nil { // enqueued before
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []string
	)
	p := c.NewPublisher(2, func(pub client.Published) {
		mu.Lock()
		defer mu.Unlock()
		if pub.Err != nil {
			t.Errorf("job %s: %v", pub.Job.ID, pub.Err)
			return
		}
		got = append(got, fmt.Sprintf("%s %s %v", pub.Job.ID, pub.Ack.Subject, pub.Ack.Duplicate))
	})
	defer p.Close()
	var want []string
	for i := range 8 {
		j := testJob(fmt.Sprint("bulk-", i), 1)
		subject, dup := "talkrelay.jobs.shop.alimtalk", i == 3
		if i%2 == 0 {
			j.Priority = client.Urgent
			subject += ".urgent"
		}
		if i < 4 {
			if err := p.Publish(ctx, j); err != nil {
				t.Fatal(err)
			}
		} else {
			data, err := j.Encode()
			if err != nil {
				t.Fatal(err)
			}
			e := &client.Encoded{ID: j.ID, Account: j.Account, Kind: j.Kind, Urgent: j.Priority == client.Urgent, Data: data}
			if err := p.PublishEncoded(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, fmt.Sprintf("%s %s %v", j.ID, subject, dup))
	}
	bad := testJob("bulk-bad", 1)
	bad.Template = ""
	var invalid *client.InvalidJobError
	if err := p.Publish(ctx, bad); !errors.As(err, &invalid) {
		t.Errorf("an invalid job: %v, want an *InvalidJobError", err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	mu.Unlock()
	if n := storedJobs(t, js); n != 8 { // bulk-0..7, bulk-3 once
		t.Errorf("the jobs stream holds %d jobs, want 8", n)
	}
}

// Without the streams, each publish is reported with ErrNotSetUp after its
// retries, and Close returns.
func TestPublisherWithoutStreams(t *testing.T) {
	_, js := natstest.Run(t).JetStream(t)
	var errs []error
	p := client.New(js).NewPublisher(4, func(pub client.Published) { errs = append(errs, pub.Err) })
	if err := p.Publish(t.Context(), testJob("lost-1", 1)); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if len(errs) != 1 || !errors.Is(errs[0], client.ErrNotSetUp) {
		t.Errorf("reported %v, want one ErrNotSetUp", errs)
	}
}

// Publish gives up when ctx ends while it waits for room.
func TestPublisherPublishHonoursContext(t *testing.T) {
	c := client.New(withStreams(t))
	release := make(chan struct{})
	p := c.NewPublisher(1, func(client.Published) { <-release }) // the first report blocks
	if err := p.Publish(t.Context(), testJob("slow-1", 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Publish(ctx, testJob("slow-2", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with the bound reached and ctx ended: %v, want context.Canceled", err)
	}
	close(release)
	p.Close()
}
