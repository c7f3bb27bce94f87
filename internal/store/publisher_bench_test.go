package store_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/internal/natstest"
)

// BenchmarkPublisher stores b.N small messages through a Publisher (the
// worker's result path), each with its own Nats-Msg-Id: client and
// embedded server together, so ns/op includes the server's share.
func BenchmarkPublisher(b *testing.B) {
	p := publisherOn(b, natstest.Run(b), context.Background(), 0)
	defer p.Close()
	data := []byte(`{"job_id":"bench","recipient_index":0,"status":"accepted"}`)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		wg.Add(1)
		m := &nats.Msg{Subject: "t.r", Data: data, Header: nats.Header{"Nats-Msg-Id": []string{strconv.Itoa(i)}}}
		p.Publish(m, func(err error) {
			if err != nil {
				b.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
}
