// Package guard is the worker's template and sender guard: what each
// account's provider says of the templates and senders its jobs name
// (exists, approved, blocked, dormant, the day's quota), cached so that a
// job for a template the provider would refuse is rejected before any
// send, without a provider call per job.
//
// The cache is shared by the replicas through a NATS KV bucket
// (talkrelay_guard): each replica keeps every entry in memory, fed by a
// watch on the bucket, and reads only memory on the hot path. A template
// or sender no replica has asked about yet is asked once (one call in
// flight per key in a replica) and the answer stored in the bucket, where
// the other replicas see it. Entries older than the TTL are asked again in
// the background by the replica whose refresh comes first; the others see
// the new entry in the bucket (an update conditional on the revision
// keeps a second writer out).
package guard

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// Bucket is the KV bucket of the guard's entries.
const Bucket = "talkrelay_guard"

// DefaultTTL is how old an entry may grow before it is asked again.
const DefaultTTL = 5 * time.Minute

// retryFailed is how soon a question that failed is asked again.
const retryFailed = time.Minute

// askTimeout bounds one provider question.
const askTimeout = 10 * time.Second

// Entry is what a provider said of one template or sender.
type Entry struct {
	// Problem is why jobs naming it must not be sent ("" when they may).
	Problem string `json:"problem,omitempty"`
	// Quotas are a sender's daily quotas.
	Quotas []providers.Quota `json:"quotas,omitempty"`
	// Checked is when the provider was asked (Unix seconds).
	Checked int64 `json:"checked"`
}

// Account is an account the guard asks about: its name and provider
// client (a providers.TemplateLookup and/or providers.SenderLookup).
type Account struct {
	Name   string
	Client providers.Provider
}

// Config configures a Guard.
type Config struct {
	TTL      time.Duration // default DefaultTTL
	Replicas int           // of the bucket
	Now      func() time.Time
	Log      zerolog.Logger
}

// Guard is one replica's cache. It is safe for concurrent use.
type Guard struct {
	cfg      Config
	kv       jetstream.KeyValue
	accounts map[string]Account

	mu      sync.RWMutex
	entries map[string]cached // written by set only
	// gen counts the changes of entries: an answer read when it was n
	// holds while it still is (Gen).
	gen    atomic.Uint64
	asking map[string]chan struct{} // questions in flight, by key

	running sync.WaitGroup // the watch and the refresh
	// ctx is New's: it bounds the questions to providers and ends the
	// guard's goroutines.
	ctx context.Context
}

type cached struct {
	Entry
	rev uint64
}

// New creates or opens the bucket and starts watching it until ctx ends.
func New(ctx context.Context, js jetstream.JetStream, cfg Config, accounts []Account) (*Guard, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket,
		Description: "talkrelay template and sender guard: what providers said of templates and senders",
		History:     1, TTL: 24 * time.Hour, Storage: jetstream.FileStorage, Replicas: max(cfg.Replicas, 1)})
	if err != nil {
		return nil, fmt.Errorf("guard: create or update bucket %s: %w", Bucket, err)
	}
	g := &Guard{cfg: cfg, kv: kv, accounts: map[string]Account{}, entries: map[string]cached{}, asking: map[string]chan struct{}{},
		ctx: ctx}
	for _, a := range accounts {
		g.accounts[a.Name] = a
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("guard: watch bucket %s: %w", Bucket, err)
	}
	// The watch first replays what the bucket holds, then a nil marks the
	// end of it: wait for that, so a new replica starts with what the
	// others learnt.
	loaded := make(chan struct{})
	g.running.Go(func() { g.watch(ctx, w, loaded) })
	select {
	case <-loaded:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	g.running.Go(func() { g.refresh(ctx) })
	return g, nil
}

// Wait waits for the guard's goroutines, which end with New's ctx.
func (g *Guard) Wait() { g.running.Wait() }

func (g *Guard) watch(ctx context.Context, w jetstream.KeyWatcher, loaded chan struct{}) {
	defer w.Stop()
	first := true
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return
		case u, ok := <-w.Updates():
			if !ok {
				return
			}
			e = u
		}
		if e == nil {
			if first {
				close(loaded)
				first = false
			}
			continue
		}
		var en Entry
		if json.Unmarshal(e.Value(), &en) != nil {
			continue
		}
		g.mu.Lock()
		if c, ok := g.entries[e.Key()]; !ok || c.rev < e.Revision() {
			g.set(e.Key(), cached{en, e.Revision()})
		}
		g.mu.Unlock()
	}
}

// TemplateKey and SenderKey are the bucket keys of a template of a sender
// and of a sender: the account, then the names in base64url (a key may
// not hold '@' or spaces).
func TemplateKey(account, sender, template string) string {
	return account + ".t." + enc(sender) + "." + enc(template)
}

func SenderKey(account, sender string) string { return account + ".s." + enc(sender) }

func enc(s string) string {
	if s == "" {
		return "_"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// set stores key's entry; g.mu is held.
func (g *Guard) set(key string, c cached) {
	g.entries[key] = c
	g.gen.Add(1)
}

// Gen counts the changes of the guard's entries. What Template and Sender
// answered when Gen was n, they answer again while Gen is n, so that a
// caller asking about the same names again and again (every recipient of a
// job) may keep the answer until Gen moves.
func (g *Guard) Gen() uint64 { return g.gen.Load() }

// Template says why a template of a sender must not be sent, or "". An
// unknown template is asked about (once, however many jobs wait); a
// provider that cannot tell, or one without a template query, lets it
// pass.
func (g *Guard) Template(account, sender, template string) string {
	if template == "" {
		return ""
	}
	return g.entry(TemplateKey(account, sender, template)).Problem
}

// Sender returns what the provider said of a sender: why it must not
// send, and its quotas. Asked as Template is.
func (g *Guard) Sender(account, sender string) Entry {
	if sender == "" {
		return Entry{}
	}
	return g.entry(SenderKey(account, sender))
}

// question is how key's provider is asked about it; nil when it cannot
// be (an unknown account, a provider without that query).
func (g *Guard) question(key string) func(context.Context) (Entry, error) {
	account, kind, names, ok := parseKey(key)
	a, known := g.accounts[account]
	if !ok || !known {
		return nil
	}
	switch kind {
	case "t":
		if tl, ok := a.Client.(providers.TemplateLookup); ok {
			return func(ctx context.Context) (Entry, error) {
				p, err := tl.TemplateProblem(ctx, names[0], names[1])
				return Entry{Problem: p}, err
			}
		}
	case "s":
		if sl, ok := a.Client.(providers.SenderLookup); ok {
			return func(ctx context.Context) (Entry, error) {
				r, err := sl.SenderState(ctx, names[0])
				return Entry{Problem: r.Problem, Quotas: r.Quotas}, err
			}
		}
	}
	return nil
}

// entry returns key's entry from memory, or asks the provider (one
// question in flight per key) and stores the answer. A question that
// cannot be asked or fails answers the zero Entry, and stores nothing.
func (g *Guard) entry(key string) Entry {
	g.mu.RLock()
	c, ok := g.entries[key]
	g.mu.RUnlock()
	if ok {
		return c.Entry // the hot path: every job after the first
	}
	g.mu.Lock()
	if c, ok := g.entries[key]; ok {
		g.mu.Unlock()
		return c.Entry
	}
	wait, asking := g.asking[key]
	if asking {
		g.mu.Unlock()
		select {
		case <-wait:
		case <-g.ctx.Done():
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.entries[key].Entry
	}
	ask := g.question(key)
	if ask == nil {
		// Nothing to ask (a provider without that query): remembered, so
		// that later jobs stay on the read path.
		g.set(key, cached{})
		g.mu.Unlock()
		return Entry{}
	}
	wait = make(chan struct{})
	g.asking[key] = wait
	g.mu.Unlock()
	e, _ := g.ask(g.ctx, key, 0, ask)
	g.mu.Lock()
	delete(g.asking, key)
	g.mu.Unlock()
	close(wait)
	return e
}

// ask asks the provider and stores the answer: created when rev is 0,
// else updated from revision rev.
func (g *Guard) ask(ctx context.Context, key string, rev uint64, ask func(context.Context) (Entry, error)) (Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	e, err := ask(ctx)
	if err != nil {
		// Remembered in memory only, as an entry that lets jobs through
		// and is asked again after retryFailed: a provider that cannot
		// tell must not cost a question per job.
		g.cfg.Log.Warn().Err(err).Str("key", key).Msg("guard: the provider could not be asked; letting jobs through")
		g.mu.Lock()
		if _, ok := g.entries[key]; !ok {
			g.set(key, cached{Entry: Entry{Checked: g.cfg.Now().Add(retryFailed - g.cfg.TTL).Unix()}})
		}
		g.mu.Unlock()
		return Entry{}, err
	}
	e.Checked = g.cfg.Now().Unix()
	data, _ := json.Marshal(e)
	var newRev uint64
	if rev == 0 {
		newRev, err = g.kv.Create(ctx, key, data)
	} else {
		newRev, err = g.kv.Update(ctx, key, data, rev)
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		g.cfg.Log.Warn().Err(err).Str("key", key).Msg("guard: cannot store an entry; kept in memory only")
	}
	g.mu.Lock()
	if c, ok := g.entries[key]; !ok || c.rev <= newRev || newRev == 0 {
		g.set(key, cached{e, newRev})
	}
	g.mu.Unlock()
	return e, nil
}

// refresh asks again about entries older than the TTL, at a random point
// of each half TTL so that replicas rarely ask at once.
func (g *Guard) refresh(ctx context.Context) {
	for {
		wait := g.cfg.TTL/4 + rand.N(g.cfg.TTL/4+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		g.refreshStale(ctx)
	}
}

// refreshStale asks again about every entry older than the TTL.
func (g *Guard) refreshStale(ctx context.Context) {
	stale := map[string]uint64{}
	limit := g.cfg.Now().Add(-g.cfg.TTL).Unix()
	g.mu.Lock()
	for k, c := range g.entries {
		if c.Checked <= limit {
			stale[k] = c.rev
		}
	}
	g.mu.Unlock()
	for key, rev := range stale {
		if ask := g.question(key); ask != nil {
			_, _ = g.ask(ctx, key, rev, ask)
		}
	}
}

// parseKey splits a key into its account, kind ("t" or "s") and names.
func parseKey(key string) (account, kind string, names []string, ok bool) {
	parts := strings.Split(key, ".")
	if len(parts) < 3 || (parts[1] == "t" && len(parts) != 4) || (parts[1] == "s" && len(parts) != 3) {
		return "", "", nil, false
	}
	for _, p := range parts[2:] {
		if p == "_" {
			names = append(names, "")
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return "", "", nil, false
		}
		names = append(names, string(b))
	}
	return parts[0], parts[1], names, true
}
