package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the JetStream KV bucket of the accounts' shared budgets: one
// key per rate-limited account, named after it.
const Bucket = "talkrelay_ratelimit"

// BucketConfig is the configuration of Bucket, with replicas like the
// streams'.
func BucketConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "talkrelay rate limits: each account's budget, shared by every worker replica",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}

// Tuning of the shared budget.
const (
	// Slice is how much of an account's budget a replica claims at once:
	// the tokens of the next Slice of time at the account's rate (at least
	// the request's own). Claims per second per busy account ≈ 1/Slice,
	// whatever the number of replicas.
	Slice = 100 * time.Millisecond
	// claimTimeout bounds one attempt to claim from NATS; a replica
	// retries, admitting nothing, until it succeeds or its caller gives up.
	claimTimeout = 2 * time.Second
	// Adaptation (AIMD): a throttled answer halves the account's rate, at
	// most once per cutSpacing and never below minFactor of the limit; the
	// rate then climbs back by recoverPerSecond of the limit each second.
	cutSpacing       = time.Second
	minFactor        = 0.05
	recoverPerSecond = 0.2
	// MaxPause caps how long one Retry-After pauses the account.
	MaxPause = 5 * time.Minute
)

// budget is the value of an account's key: the virtual time at which each
// dimension's next token falls due (GCRA), and the last adaptive cut. Times
// are Unix nanoseconds.
type budget struct {
	Requests int64 `json:"requests_tat,omitempty"`
	// Recipients is when recipients may be sent again after a pause, and
	// Log the requests that carry them, sent in the last window or due.
	Recipients int64   `json:"recipients_tat,omitempty"`
	Log        []sent  `json:"recipients_log,omitempty"`
	Factor     float64 `json:"factor,omitempty"` // share of the limit right after the last cut; 0: never cut
	CutAt      int64   `json:"cut_at,omitempty"`
}

// decodeBudget reads a key's value; a value it cannot read (another
// version wrote it, or it was damaged) counts as a fresh budget, which
// the next claim overwrites.
func decodeBudget(b []byte) budget {
	var v budget
	if json.Unmarshal(b, &v) != nil || math.IsNaN(v.Factor) || v.Factor < 0 || v.Factor > 1 {
		return budget{}
	}
	if v.Factor > 0 {
		v.Factor = max(v.Factor, minFactor)
	}
	if len(v.Log) > maxLog {
		v.Log = nil
	}
	return v
}

// factorAt is the share of the configured limit in force at t.
func (v budget) factorAt(t int64) float64 {
	if v.Factor == 0 {
		return 1
	}
	return min(1, v.Factor+recoverPerSecond*float64(max(t-v.CutAt, 0))/1e9)
}

// dimension is one rate of an account: requests or recipients (whose
// schedule is the log: see placeRecipients).
type dimension struct {
	rate float64 // tokens per second after headroom; 0: unlimited
	// credit is how many tokens the schedule may start in the past after
	// an idle spell: burst-1.
	credit int
	// maxLate is how late a token may still be spent, in nanoseconds: a
	// quarter of the headroom of a second (at most one token interval),
	// so that tokens spent late put at most headroom/4 more in a second
	// than the rate, and the rest still covers the jitter on the way.
	maxLate int64
	tat     func(*budget) *int64

	// The replica's grant: tokens due at next, next+per, ... before end.
	next, end int64
	per       float64 // nanoseconds per token
}

// short tells whether the grant lacks n tokens.
func (d *dimension) short(n int) bool {
	return d.rate > 0 && (d.per == 0 || float64(d.end-d.next) < float64(n)*d.per-0.5)
}

// drop gives up the grant's tokens that fell due more than maxLate before
// now (or the burst's credit, which a claim after an idle spell starts in
// the past): spent late, they would bunch up with the tokens of other
// replicas that fall due now.
func (d *dimension) drop(now int64) {
	late := max(min(int64(d.per), d.maxLate), int64(float64(d.credit)*d.per))
	if d.next < now-late {
		d.next = now
	}
}

// Global keeps an account within its limits across every replica sharing
// its key in Bucket, which only compare-and-set updates change. Requests
// are a GCRA schedule: a replica claims the next Slice of it at once, then
// spends those tokens locally, each no earlier than it falls due. Tokens a
// replica claimed and did not spend (it stopped, died or had nothing more
// to send) are lost, never handed out twice. Recipients are a log of the
// requests of the last window (see placeRecipients).
type Global struct {
	kv       jetstream.KeyValue
	key      string
	now      func() time.Time
	maxBatch int
	// recipientsLimit is recipients_per_second, and window the span no
	// more than that many recipients may be sent in: a second plus the
	// headroom of one.
	recipientsLimit float64
	window          int64

	mu         sync.Mutex // one claim at a time; guards everything below
	requests   dimension
	recipients dimension
	known      bool   // cached and rev are the key as last read or written
	cached     budget // the key's value at revision rev
	rev        uint64 // 0: no key yet
	lastCut    time.Time
}

// NewGlobal returns the shared limiter of account for cfg. maxBatch is the
// largest n Wait will be asked for.
func NewGlobal(kv jetstream.KeyValue, account string, cfg Config, maxBatch int) *Global {
	share := 1 - cfg.headroom()
	burst := max(cfg.Burst, 1)
	late := int64(cfg.headroom() / 4 * float64(time.Second))
	g := &Global{kv: kv, key: account, now: time.Now,
		requests: dimension{rate: cfg.RequestsPerSecond * share, credit: burst - 1, maxLate: late,
			tat: func(b *budget) *int64 { return &b.Requests }},
		recipients:      dimension{rate: cfg.RecipientsPerSecond / (1 + cfg.headroom()), tat: func(b *budget) *int64 { return &b.Recipients }},
		recipientsLimit: cfg.RecipientsPerSecond,
		window:          int64((1 + cfg.headroom()) * float64(time.Second)),
		maxBatch:        maxBatch,
	}
	return g
}

// Limited tells whether cfg limits anything (else no limiter is needed).
func (c Config) Limited() bool { return c.RequestsPerSecond > 0 || c.RecipientsPerSecond > 0 }

// Wait implements Limiter: it takes a request's tokens from the replica's
// grant, claiming more from NATS when the grant runs short, and sleeps
// until they fall due. While NATS does not answer it admits nothing.
func (g *Global) Wait(ctx context.Context, n int) error {
	if n > g.maxBatch && g.recipients.rate > 0 {
		return fmt.Errorf("ratelimit: a request of %d recipients exceeds the bucket of %d", n, g.maxBatch)
	}
	due, err := g.reserve(ctx, n)
	if err != nil {
		return err
	}
	d := time.Duration(due - g.now().UnixNano())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err() // the tokens stay spent, as with Local
	case <-t.C:
		return nil
	}
}

// reserve takes the tokens of a request of n recipients and returns when
// it may go (Unix nanoseconds).
func (g *Global) reserve(ctx context.Context, n int) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now().UnixNano()
	g.requests.drop(now)
	if g.requests.short(1) {
		if err := g.retrying(ctx, g.claimRequests); err != nil {
			return 0, err
		}
	}
	due := g.requests.take(1)
	if g.recipientsLimit > 0 {
		err := g.retrying(ctx, func(ctx context.Context) (err error) {
			due, err = g.placeRecipients(ctx, n, max(due, now))
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return due, nil
}

// take spends n tokens of the grant and returns when the first falls due:
// a request goes when its first token does, as a full bucket lets it.
func (d *dimension) take(n int) int64 {
	if d.rate == 0 {
		return 0
	}
	due := d.next
	d.next += int64(float64(n) * d.per)
	return due
}

// retrying runs one claim on the key until NATS answers or ctx ends.
func (g *Global) retrying(ctx context.Context, claim func(context.Context) error) error {
	wait := 50 * time.Millisecond
	for {
		err := g.claimOnce(ctx, claim)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

func (g *Global) claimOnce(ctx context.Context, claim func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	return claim(ctx)
}

// claimRequests extends the replica's grant of requests by a Slice.
func (g *Global) claimRequests(ctx context.Context) error {
	var grant dimension
	err := g.update(ctx, func(next *budget, now int64) bool {
		grant = g.requests
		grant.extend(next, now, 1, next.factorAt(now))
		return true
	})
	if err == nil {
		g.requests = grant
	}
	return err
}

// extend claims the next Slice of the dimension's schedule in b, at least
// want tokens, at share f of the rate, and adds it to the grant.
func (d *dimension) extend(b *budget, now int64, want int, f float64) {
	per := 1e9 / (d.rate * f)
	tat := d.tat(b)
	// After an idle spell the schedule may start credit tokens in the
	// past; one further ahead than any pause can push it is damaged.
	start := min(max(*tat, now-int64(float64(d.credit)*per)), now+int64(2*MaxPause))
	tokens := max(math.Ceil(float64(Slice)/per), float64(want))
	end := start + int64(tokens*per)
	if start != d.end || per != d.per {
		d.next = start // not contiguous: what was left of the grant is lost
	}
	d.per, d.end, *tat = per, end, end
}

// update applies change to the key by compare-and-set, reading it again
// when another replica wrote it first, until it succeeds, ctx ends or NATS
// fails. change returns false when it has nothing to write.
func (g *Global) update(ctx context.Context, change func(b *budget, now int64) bool) error {
	for {
		if !g.known {
			if err := g.read(ctx); err != nil {
				return err
			}
		}
		next := g.cached
		if !change(&next, g.now().UnixNano()) {
			return nil
		}
		data, _ := json.Marshal(next)
		var rev uint64
		var err error
		if g.rev == 0 {
			rev, err = g.kv.Create(ctx, g.key, data)
		} else {
			rev, err = g.kv.Update(ctx, g.key, data, g.rev)
		}
		g.known = err == nil
		switch {
		case err == nil:
			g.cached, g.rev = next, rev
			return nil
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists):
			// Another replica wrote first: read its claim and go after it.
		default:
			return fmt.Errorf("ratelimit: update %s: %w", g.key, err)
		}
	}
}

// read loads the key into cached.
func (g *Global) read(ctx context.Context) error {
	e, err := g.kv.Get(ctx, g.key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		g.cached, g.rev = budget{}, 0
	case err != nil:
		return fmt.Errorf("ratelimit: read %s: %w", g.key, err)
	default:
		g.cached, g.rev = decodeBudget(e.Value()), e.Revision()
	}
	g.known = true
	return nil
}

// Throttled implements Feedback: it cuts the account's rate for every
// replica (halving it, at most once per cutSpacing) and, for a
// Retry-After, pushes every schedule past it (at most MaxPause), so no
// replica claims tokens due before. This replica drops its grant at once;
// the others spend at most what they had claimed. A failure to reach NATS
// is returned: the cut is then this replica's alone.
func (g *Global) Throttled(retryAfter time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	cut := now.Sub(g.lastCut) >= cutSpacing
	if !cut && retryAfter <= 0 {
		return nil // this replica cut lately: the same congestion
	}
	pause := now.Add(min(retryAfter, MaxPause)).UnixNano()
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	err := g.update(ctx, func(b *budget, t int64) bool {
		changed := false
		if t-b.CutAt >= int64(cutSpacing) || b.Factor == 0 {
			b.Factor, b.CutAt, changed = max(b.factorAt(t)/2, minFactor), t, true
		}
		for _, d := range []*dimension{&g.requests, &g.recipients} {
			if tat := d.tat(b); retryAfter > 0 && d.rate > 0 && *tat < pause {
				*tat, changed = pause, true
			}
		}
		return changed
	})
	g.lastCut = now
	for _, d := range []*dimension{&g.requests, &g.recipients} {
		d.next, d.end = 0, 0
	}
	return err
}

// Rates returns the account's effective rates now, requests and
// recipients per second after headroom and adaptive cuts (0: unlimited),
// as this replica last read them.
func (g *Global) Rates() (requests, recipients float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.cached.factorAt(g.now().UnixNano())
	return g.requests.rate * f, g.recipients.rate * f
}
