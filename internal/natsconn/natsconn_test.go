package natsconn

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/talkrelay/talkrelay/internal/natstest"
)

func TestStartEmbeddedOnATakenPortFailsAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ns, err := StartEmbedded(Embedded{StoreDir: t.TempDir(), Host: "127.0.0.1", Port: port, MaxPayload: 8 << 20}, "")
	if err == nil {
		ns.Shutdown()
		t.Fatal("started on a taken port")
	}
	if want := "port " + strconv.Itoa(port) + " is in use"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q lacks %q", err, want)
	}
}

func TestPayloadWarning(t *testing.T) {
	// An external server with nats-server's default max_payload, 1 MiB.
	srv := natstest.RunWith(t, server.Options{StoreDir: t.TempDir(), MaxPayload: 1 << 20})
	nc, _ := srv.JetStream(t)
	msg := PayloadWarning(nc, 4<<20)
	for _, want := range []string{"max_payload is 1048576 bytes", "worker.max_job_bytes (4194304)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("warning %q lacks %q", msg, want)
		}
	}
	if msg := PayloadWarning(nc, 1<<20); msg != "" {
		t.Errorf("warning at max_job_bytes = max_payload: %q", msg)
	}
}
