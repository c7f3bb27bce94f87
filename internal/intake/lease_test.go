package intake

import (
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestLeaseNotRenewedAfterGap: a keep-alive confirmed while the lease runs
// renews it from the keep-alive's request; one confirmed after the lease
// ended does not (NATS confirms a progress ack even when it redelivered the
// message elsewhere meanwhile), and neither does an answer with a status.
func TestLeaseNotRenewedAfterGap(t *testing.T) {
	t.Parallel()
	span := int64(time.Hour)
	k := &keepAlives{inbox: "_INBOX.t", span: span, asked: map[uint64]keepAlive{}}
	answer := func(m *Msg, asked int64, status string) {
		k.mu.Lock()
		k.nextID++
		id := k.nextID
		m.keepAlive = id
		k.asked[id] = keepAlive{m, asked}
		k.mu.Unlock()
		msg := nats.NewMsg(k.inbox + "." + strconv.FormatUint(id, 10))
		if status != "" {
			msg.Header.Set("Status", status)
		}
		k.answered(msg)
	}

	running := &Msg{}
	running.lease.Store(mono() + int64(time.Minute))
	asked := mono()
	answer(running, asked, "")
	if got := running.lease.Load(); got != asked+span {
		t.Fatalf("lease after a timely confirmation ends at %d, want %d", got, asked+span)
	}

	noResponders := &Msg{}
	end := mono() + int64(time.Minute)
	noResponders.lease.Store(end)
	answer(noResponders, mono(), "503")
	if got := noResponders.lease.Load(); got != end {
		t.Fatal("an answer with a status renewed the lease")
	}

	ended := &Msg{}
	ended.lease.Store(mono() + int64(time.Millisecond))
	asked = mono() // requested in time, answered too late
	for !ended.Lost() {
		time.Sleep(time.Millisecond)
	}
	answer(ended, asked, "")
	if !ended.Lost() {
		t.Fatal("a confirmation after the lease ended renewed it")
	}
}
