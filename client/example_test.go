package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/client"
)

// Publish a job and wait for the result of each recipient.
func Example() {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(js)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	j := &client.Job{
		ID:       "order-1234-shipped", // your idempotency key
		Account:  "sandbox",
		Kind:     client.AlimTalk,
		Template: "ORDER_SHIPPED",
		Recipients: []client.Recipient{
			{Ref: "customer-1", Phone: "010-1234-5678", Content: "Your order 1234 has shipped."},
			{Ref: "customer-2", Phone: "01098765432", Content: "Your order 1234 has shipped."},
		},
	}
	ack, err := c.Publish(ctx, j)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("published to", ack.Subject)

	results, err := c.WaitJob(ctx, j)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.RecipientIndex, r.Ref, r.Phone, r.Status, r.Reason)
	}
	// Output:
	// published to talkrelay.jobs.sandbox.alimtalk
	// 0 customer-1 010****5678 accepted ok
	// 1 customer-2 010****5432 accepted ok
}

// Publishing the same job again, after a timeout or a crash, stores nothing
// new: the job id is the message's Nats-Msg-Id.
func ExampleClient_Publish() {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(js)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	j := &client.Job{
		ID:       "otp-5678",
		Account:  "sandbox",
		Kind:     client.AlimTalk,
		Priority: client.Urgent, // overtakes the account's queued normal jobs
		Template: "OTP",
		Recipients: []client.Recipient{
			{Phone: "01055550000", Content: "Your code is 123456."},
		},
	}
	for range 2 {
		ack, err := c.Publish(ctx, j)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ack.Subject, "duplicate:", ack.Duplicate)
	}
	// Output:
	// talkrelay.jobs.sandbox.alimtalk.urgent duplicate: false
	// talkrelay.jobs.sandbox.alimtalk.urgent duplicate: true
}

// A job that talkrelay would reject is not published.
func ExampleClient_Publish_invalid() {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(js)

	j := &client.Job{
		ID:         "welcome-1",
		Account:    "sandbox",
		Kind:       client.AlimTalk, // AlimTalk needs a template
		Recipients: []client.Recipient{{Phone: "01012345678", Content: "Welcome!"}},
	}
	_, err = c.Publish(context.Background(), j)
	var invalid *client.InvalidJobError
	fmt.Println(errors.As(err, &invalid))
	fmt.Println(err)
	// Output:
	// true
	// talkrelay: invalid job welcome-1: /: missing property 'template'
}

// Follow results by subject filter: here every result of the sandbox
// account that failed, as they are stored.
func ExampleClient_Results() {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(js)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A recipient with variables only: the sandbox, like NAVER, needs the
	// full text, so talkrelay rejects it before any provider call.
	j := &client.Job{
		ID: "welcome-2", Account: "sandbox", Kind: client.AlimTalk, Template: "WELCOME",
		Recipients: []client.Recipient{{Ref: "customer-9", Phone: "01012345678", Variables: map[string]string{"name": "Kim"}}},
	}
	if _, err := c.Publish(ctx, j); err != nil {
		log.Fatal(err)
	}
	for r, err := range c.Results(ctx, client.ResultsSubject("sandbox", client.Rejected)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.JobID, r.Ref, r.Status, r.Reason)
		break // a service would go on for as long as it runs
	}
	// Output:
	// welcome-2 customer-9 rejected invalid_recipient
}

// Publish many jobs asynchronously, then wait for every recipient's result:
// the Waiter is made before the first publish and told of each job whose
// publish was acked.
func ExampleWaiter() {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(client.PublishTimeout))
	if err != nil {
		log.Fatal(err)
	}
	c := client.New(js)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	w, err := c.NewWaiter(ctx)
	if err != nil {
		log.Fatal(err)
	}
	stored, failed := 0, 0
	p := c.NewPublisher(100, func(pub client.Published) {
		if pub.Err != nil {
			failed++ // publishing the job again later is safe
			return
		}
		stored++
		w.Add(pub.Job.Account, pub.Job.ID, 1) // each job below has one recipient
	})
	for i := range 20 {
		j := &client.Job{
			ID: fmt.Sprintf("newsletter-7-%d", i), Account: "sandbox", Kind: client.AlimTalk, Template: "NEWSLETTER",
			Recipients: []client.Recipient{{Phone: fmt.Sprintf("010555500%02d", i), Content: "Issue 7 is out."}},
		}
		if err := p.Publish(ctx, j); err != nil {
			log.Fatal(err)
		}
	}
	p.Close() // every report is in: the Waiter knows every job
	fmt.Println("stored", stored, "failed", failed)

	byStatus := map[client.Status]int{}
	for r, err := range w.Results(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		byStatus[r.Status] += r.Settled
	}
	fmt.Println(byStatus)
	// Output:
	// stored 20 failed 0
	// map[accepted:20]
}
