package worker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/guard"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// countedTemplates is a provider whose template query counts its calls.
type countedTemplates struct {
	providers.Provider
	calls atomic.Int32
}

func (p *countedTemplates) TemplateProblem(context.Context, string, string) (string, error) {
	p.calls.Add(1)
	return "", nil
}

// TestGuardVerdictFollowsTheGuard: the guard is asked about a job's sender
// and template once, not once per recipient or per job, and its verdict is
// taken again as soon as an entry changes (here another replica storing
// that the template is no longer approved), so that no recipient is sent
// on a stale verdict.
func TestGuardVerdictFollowsTheGuard(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	p := &countedTemplates{}
	g, err := guard.New(t.Context(), js, guard.Config{Log: zerolog.Nop()}, []guard.Account{{Name: "shop", Client: p}})
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{guard: g}
	d := &delivery{acct: &account{Account: &dispatch.Account{Name: "shop"}}, job: &job.Job{Kind: job.AlimTalk}}
	k := &providers.Key{Sender: "@shop", Template: "T"}

	// The first question stores entries (the guard's gen moves): the
	// verdict is taken again once, then kept.
	w.guardVerdict(d, k)
	first := w.guardVerdict(d, k)
	for range 100 {
		if v := w.guardVerdict(d, k); v != first || v.why != "" {
			t.Fatalf("verdict %+v for the next recipient, want the first one (%+v) again", v, first)
		}
	}
	next := &delivery{acct: d.acct, job: &job.Job{Kind: job.AlimTalk}}
	if v := w.guardVerdict(next, k); v != first {
		t.Fatalf("verdict %+v for the next job, want the first one (%+v) again", v, first)
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("template asked %d times, want once", n)
	}

	kv, err := js.KeyValue(t.Context(), guard.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	entry := fmt.Sprintf(`{"problem":"template T: not approved","checked":%d}`, time.Now().Unix())
	if _, err := kv.Put(t.Context(), guard.TemplateKey("shop", "@shop", "T"), []byte(entry)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.guardVerdict(d, k).why != "template T: not approved" || w.guardVerdict(next, k).why != "template T: not approved" {
		if time.Now().After(deadline) {
			t.Fatal("the verdict never followed the changed entry")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
