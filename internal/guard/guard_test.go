package guard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// templates is a provider whose template query the test scripts and counts.
type templates struct {
	providers.Provider
	calls   atomic.Int32
	mu      sync.Mutex
	problem string
	err     error
	release chan struct{} // when set, questions wait for it
}

func (p *templates) TemplateProblem(ctx context.Context, sender, template string) (string, error) {
	p.calls.Add(1)
	if p.release != nil {
		<-p.release
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.problem, p.err
}

type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time { return time.Unix(c.now.Load(), 0) }

func newGuard(t *testing.T, srv *natstest.Server, p providers.Provider, c *clock) *Guard {
	t.Helper()
	_, js := srv.JetStream(t)
	g, err := New(t.Context(), js, Config{Now: c.Now, Log: zerolog.Nop()}, []Account{{Name: "shop", Client: p}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestTemplateAskedOnceAcrossJobsAndReplicas: many jobs of an unknown
// template cost one provider question; a second replica reads the answer
// from the bucket; after the TTL one refresh asks again and both see it.
func TestTemplateAskedOnceAcrossJobsAndReplicas(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	c := &clock{}
	c.now.Store(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).Unix())
	p := &templates{problem: "template T: template is not approved (inspection REJECT)", release: make(chan struct{})}
	g1 := newGuard(t, srv, p, c)

	var wg sync.WaitGroup
	answers := make([]string, 20)
	for i := range answers {
		wg.Go(func() { answers[i] = g1.Template("shop", "@shop", "T") })
	}
	for p.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(p.release)
	wg.Wait()
	for i, a := range answers {
		if a != p.problem {
			t.Fatalf("job %d: %q, want the provider's problem", i, a)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d questions for 20 jobs of one template, want 1", n)
	}
	gen1 := g1.Gen()
	if g1.Template("shop", "@shop", "T"); g1.Gen() != gen1 {
		t.Fatal("Gen moved on a read")
	}

	g2 := newGuard(t, srv, p, c)
	if got := g2.Template("shop", "@shop", "T"); got != p.problem || p.calls.Load() != 1 {
		t.Fatalf("second replica: %q after %d questions; want the stored answer without asking", got, p.calls.Load())
	}
	gen2 := g2.Gen()

	p.mu.Lock()
	p.problem = "" // approved since
	p.mu.Unlock()
	c.now.Add(int64(DefaultTTL / time.Second))
	g1.refreshStale(t.Context())
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d questions after the refresh, want 2", n)
	}
	if g1.Gen() == gen1 {
		t.Fatal("Gen did not move when the refresh changed the entry")
	}
	deadline := time.Now().Add(10 * time.Second)
	for g2.Template("shop", "@shop", "T") != "" {
		if time.Now().After(deadline) {
			t.Fatal("the second replica never saw the refreshed entry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("the second replica asked too: %d questions", n)
	}
	if g2.Gen() == gen2 {
		t.Fatal("the second replica's Gen did not move when the watch brought the new entry")
	}
}

// TestProviderThatCannotTell: a failed question lets jobs through and is
// not asked again per job, only after retryFailed.
func TestProviderThatCannotTell(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	c := &clock{}
	c.now.Store(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).Unix())
	p := &templates{err: errors.New("provider down")}
	g := newGuard(t, srv, p, c)
	for range 5 {
		if got := g.Template("shop", "@shop", "T"); got != "" {
			t.Fatalf("%q: a provider that cannot tell must let jobs through", got)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d questions, want 1", n)
	}
	c.now.Add(int64(retryFailed / time.Second))
	g.refreshStale(t.Context())
	if n := p.calls.Load(); n != 2 {
		t.Fatalf("%d questions after retryFailed, want 2", n)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	for _, k := range []string{TemplateKey("shop", "@shop", "order v1"), TemplateKey("shop", "", "T"), SenderKey("shop", "@a b")} {
		if _, _, _, ok := parseKey(k); !ok {
			t.Errorf("%q does not parse", k)
		}
	}
	a, kind, names, _ := parseKey(TemplateKey("shop", "@shop", "order v1"))
	if a != "shop" || kind != "t" || names[0] != "@shop" || names[1] != "order v1" {
		t.Fatalf("parsed %q %q %q", a, kind, names)
	}
}

// BenchmarkCachedTemplate is the hot path: a job's template and sender
// already known.
func BenchmarkCachedTemplate(b *testing.B) {
	srv := natstest.Run(b)
	_, js := srv.JetStream(b)
	g, err := New(b.Context(), js, Config{Log: zerolog.Nop()}, []Account{{Name: "shop", Client: &templates{}}})
	if err != nil {
		b.Fatal(err)
	}
	g.Template("shop", "@shop", "ORDER_SHIPPED")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if g.Template("shop", "@shop", "ORDER_SHIPPED") != "" {
				b.Fatal("problem")
			}
		}
	})
}
