package ratelimit

import (
	"context"
	"testing"
	"time"
)

func noHeadroom() *float64 { z := 0.0; return &z }

func TestReserveSpacesRequests(t *testing.T) {
	t.Parallel()
	l := NewLocal(Config{RequestsPerSecond: 200, Headroom: noHeadroom()}, 1)
	start := time.Unix(1_700_000_000, 0)
	// 1000 requests reserved back to back at the same instant must be
	// spread so that none is scheduled before i*5ms.
	var last time.Duration
	for i := range 1000 {
		d, err := l.Reserve(start, 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Duration(i) * 5 * time.Millisecond; d < want-time.Microsecond {
			t.Fatalf("request %d admitted after %s, want >= %s", i, d, want)
		}
		last = d
	}
	if last > 5*time.Second {
		t.Fatalf("1000 requests at 200/s take %s, want about 5s", last)
	}
}

func TestReserveCountsRecipients(t *testing.T) {
	t.Parallel()
	l := NewLocal(Config{RecipientsPerSecond: 1000, Headroom: noHeadroom()}, 1000)
	now := time.Unix(1_700_000_000, 0)
	d1, _ := l.Reserve(now, 1000) // the full bucket
	d2, _ := l.Reserve(now, 500)  // must wait for 500 tokens: 0.5s
	if d1 != 0 || d2 < 500*time.Millisecond || d2 > 501*time.Millisecond {
		t.Fatalf("delays %s, %s; want 0 and 500ms", d1, d2)
	}
}

func TestReserveRefusesImpossibleRequest(t *testing.T) {
	t.Parallel()
	l := NewLocal(Config{RecipientsPerSecond: 10, RequestsPerSecond: 5}, 100)
	if _, err := l.Reserve(time.Now(), 101); err == nil {
		t.Fatal("a request larger than the bucket was admitted")
	}
	// The refused request gave back the request token it took.
	if d, err := l.Reserve(time.Now(), 1); err != nil || d != 0 {
		t.Fatalf("after a refusal: delay %s, err %v; want 0, nil", d, err)
	}
}

func TestUnlimited(t *testing.T) {
	t.Parallel()
	l := NewLocal(Config{}, 1000)
	for range 10000 {
		if err := l.Wait(context.Background(), 1000); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWaitCancelled(t *testing.T) {
	t.Parallel()
	l := NewLocal(Config{RequestsPerSecond: 0.001}, 1)
	_ = l.Wait(context.Background(), 1) // spends the only token
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, 1); err != context.Canceled {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}

func TestHeadroomLowersTheRate(t *testing.T) {
	t.Parallel()
	l := NewLocal(Config{RequestsPerSecond: 100}, 1) // default headroom 3%
	now := time.Unix(1_700_000_000, 0)
	var last time.Duration
	for range 98 {
		last, _ = l.Reserve(now, 1)
	}
	// 98 requests at 97/s: the last is admitted just after 1s.
	if last < time.Second || last > 1010*time.Millisecond {
		t.Fatalf("98th request at %s, want about 1s (97/s)", last)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	big := 0.6
	for _, c := range []Config{{RequestsPerSecond: -1}, {RecipientsPerSecond: -1}, {Burst: -1}, {Headroom: &big}} {
		if c.Validate() == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Config{RequestsPerSecond: 1, RecipientsPerSecond: 2, Burst: 3}).Validate(); err != nil {
		t.Error(err)
	}
}
