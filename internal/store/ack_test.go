package store

import (
	"bytes"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackError takes the server's PubAck as success, a 503 status as no stream
// responding, and an error ack as its API error (a permanent one such as
// a message over the stream's max_msg_size included).
func TestAckError(t *testing.T) {
	t.Parallel()
	status := func(code string) *nats.Msg { return &nats.Msg{Header: nats.Header{"Status": []string{code}}} }
	for _, tt := range []struct {
		name string
		msg  *nats.Msg
		ok   bool
		is   error
	}{
		{"stored", &nats.Msg{Data: []byte(`{"stream":"TALKRELAY_RESULTS","seq":12}`)}, true, nil},
		{"duplicate", &nats.Msg{Data: []byte(`{"stream":"T","seq":3,"duplicate":true}`)}, true, nil},
		{"domain", &nats.Msg{Data: []byte(`{"stream":"T","domain":"hub","seq":3}`)}, true, nil},
		{"no responders", status("503"), false, jetstream.ErrNoStreamResponse},
		{"too large", &nats.Msg{Data: []byte(`{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"T","seq":0}`)},
			false, jetstream.ErrStreamMessageExceedsMaximum},
		{"garbage", &nats.Msg{Data: []byte(`nope`)}, false, nil},
	} {
		err := ackError(tt.msg)
		if (err == nil) != tt.ok || tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: ackError = %v; want ok %v, is %v", tt.name, err, tt.ok, tt.is)
		}
	}
}

// Acks come from the server, but a broken or hostile one must not crash
// the worker or pass an error off as stored.
func FuzzAckError(f *testing.F) {
	f.Add([]byte(`{"stream":"T","seq":1}`))
	f.Add([]byte(`{"error":{"code":503,"err_code":10077,"description":"x"}}`))
	f.Add([]byte(`{"error":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := ackError(&nats.Msg{Data: data})
		if err == nil && !bytes.HasPrefix(data, []byte(`{"stream":`)) {
			t.Errorf("%q taken as stored", data)
		}
	})
}
