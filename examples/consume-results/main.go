// Command consume-results consumes talkrelay result events through a durable
// consumer on the TALKRELAY_RESULTS stream and prints one line per result.
//
//	go run ./examples/consume-results -filter 'talkrelay.results.sandbox.>'
//
// A restarted consumer goes on where it stopped (the durable remembers what
// it acknowledged). A result may come twice (a redelivery after a lost ack):
// key what you store by its Nats-Msg-Id, <job_id>/<recipient_index>.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// event holds the result fields this program prints; the full event is
// described by schemas/result.v1.schema.json.
type event struct {
	JobID          string `json:"job_id"`
	RecipientIndex int    `json:"recipient_index"`
	Ref            string `json:"ref"`
	Phone          string `json:"phone"`
	Status         string `json:"status"`
	Reason         string `json:"reason"`
	Code           string `json:"code"`
	Detail         string `json:"detail"`
}

func main() {
	url := flag.String("nats-url", nats.DefaultURL, "NATS server URL")
	filter := flag.String("filter", "talkrelay.results.>", "result subjects to consume")
	durable := flag.String("durable", "results-example", "durable consumer name")
	count := flag.Int("count", 0, "stop after this many results (0: never)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	nc, err := nats.Connect(*url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "TALKRELAY_RESULTS", jetstream.ConsumerConfig{
		Durable:       *durable,
		FilterSubject: *filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		log.Fatal(err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		log.Fatal(err)
	}
	go func() { <-ctx.Done(); msgs.Stop() }()

	seen := map[string]bool{}
	for *count == 0 || len(seen) < *count {
		m, err := msgs.Next()
		if err != nil {
			break // stopped
		}
		var ev event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			log.Printf("%s: not a result event: %v", m.Subject(), err)
		} else if id := m.Headers().Get(jetstream.MsgIDHeader); !seen[id] {
			seen[id] = true
			fmt.Printf("%s #%d %s %s ref=%q phone=%s code=%q detail=%q\n",
				ev.JobID, ev.RecipientIndex, ev.Status, ev.Reason, ev.Ref, ev.Phone, ev.Code, ev.Detail)
		}
		if err := m.Ack(); err != nil {
			log.Printf("ack: %v", err)
		}
	}
}
