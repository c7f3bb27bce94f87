package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Source is where an account's delivery reports come from: a provider's
// report API, or the sandbox.
type Source interface {
	// Poll returns at most limit reports that follow cursor (nil: from
	// the beginning the source keeps) and the cursor that follows them.
	// A source that calls its provider waits for the account's rate limit
	// before each request. It must not skip a report it did not return,
	// and must give back the same reports for the same cursor until they
	// are completed.
	Poll(ctx context.Context, cursor []byte, limit int) (*Page, error)
}

// Page is one answer of a Source.
type Page struct {
	Reports []*Event
	// Next is the cursor after Reports.
	Next []byte
	// More says the source has more reports ready now: the poller asks
	// again at once instead of waiting for its interval.
	More bool
	// Complete, when set, is called once Reports are stored and Next is
	// saved: a provider that hands reports out until they are confirmed
	// (Kakao's completion call) is told only then. A poller that dies
	// before it leaves the provider to hand them out again; they are
	// stored once (Publish).
	Complete func(ctx context.Context) error
}

// Config is an account's polling settings.
type Config struct {
	// Enabled turns polling on; the sandbox's default is on, the
	// providers' off.
	Enabled *bool `yaml:"enabled"`
	// Interval between polls when the source has nothing more ready.
	Interval time.Duration `yaml:"interval"`
	// PageSize is the most reports asked for in one request (capped by
	// the provider's own limit).
	PageSize int `yaml:"page_size"`
	// Lease is how long a replica holds the account's polling without
	// renewing it; another replica takes over after that.
	Lease time.Duration `yaml:"lease"`
	// MaxBackoff caps the wait after errors (doubling from Interval).
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Horizon is how long after its accepted result a recipient the
	// provider reports nothing terminal for is reported expired.
	Horizon time.Duration `yaml:"horizon"`
}

// Defaults fills the unset durations and sizes.
func (c *Config) Defaults() {
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.PageSize == 0 {
		c.PageSize = 100
	}
	if c.Lease == 0 {
		c.Lease = 15 * time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	if c.Horizon == 0 {
		c.Horizon = DefaultHorizon
	}
}

// Validate names the first field out of range (after Defaults).
func (c Config) Validate() error {
	switch {
	case c.Interval < 10*time.Millisecond:
		return fmt.Errorf("interval: %s is shorter than 10ms", c.Interval)
	case c.PageSize < 1 || c.PageSize > 10000:
		return fmt.Errorf("page_size: %d is out of range 1..10000", c.PageSize)
	case c.Lease < time.Second:
		return fmt.Errorf("lease: %s is shorter than 1s", c.Lease)
	case c.Lease >= streams.ReportsDuplicateWindow:
		return fmt.Errorf("lease: %s is not shorter than %s, the reports stream's duplicate window", c.Lease, streams.ReportsDuplicateWindow)
	case c.MaxBackoff < c.Interval:
		return fmt.Errorf("max_backoff: %s is shorter than interval %s", c.MaxBackoff, c.Interval)
	case c.Horizon < time.Minute:
		return fmt.Errorf("horizon: %s is shorter than 1m", c.Horizon)
	}
	return nil
}

// DefaultHorizon is the default Horizon: longer than the three days a
// provider may take to confirm a receipt or an LMS fallback.
const DefaultHorizon = 96 * time.Hour

// On reports whether polling is enabled, given the provider's default.
func (c Config) On(byDefault bool) bool {
	if c.Enabled == nil {
		return byDefault
	}
	return *c.Enabled
}

// Poller polls one account's reports while this replica holds the
// account's lease.
type Poller struct {
	// Name is what the lease and cursor keys are named after: the
	// account, and the kind after a dot when its provider lists the kinds
	// apart (NHN).
	Name   string
	Source Source
	JS     jetstream.JetStream
	KV     jetstream.KeyValue // streams.ReportsBucket
	Config Config
	// Holder names this replica in the lease.
	Holder string
	Log    zerolog.Logger
	Now    func() time.Time
	// Stored, when set, is told of the reports of every page stored;
	// Failed of every poll that failed (the metrics).
	Stored func(evs []*Event)
	Failed func(err error)
}

// lease is the value of the lease key.
type lease struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

func (p *Poller) leaseKey() string  { return "lease." + p.Name }
func (p *Poller) cursorKey() string { return "cursor." + p.Name }

// errLost: another replica holds the lease or moved the cursor.
var errLost = errors.New("report: lease lost")

// Run polls until ctx ends: it waits for the account's lease, polls while
// holding it, and waits again when it loses it.
func (p *Poller) Run(ctx context.Context) {
	for ctx.Err() == nil {
		held, err := p.hold(ctx)
		switch {
		case errors.Is(err, errLost) || ctx.Err() != nil:
		case err != nil:
			p.Log.Warn().Err(err).Str("poller", p.Name).Msg("report poller")
		}
		if held {
			p.Log.Info().Str("poller", p.Name).Msg("report poller gave up its lease")
		}
		sleep(ctx, p.Config.Interval)
	}
}

// hold takes the lease if it is free and polls until it is lost or ctx
// ends; held says whether it was taken.
func (p *Poller) hold(ctx context.Context) (held bool, err error) {
	rev, err := p.acquire(ctx, 0)
	if err != nil {
		return false, err
	}
	p.Log.Info().Str("poller", p.Name).Str("holder", p.Holder).Msg("report poller took its lease")
	defer func() { p.release(rev) }() // the last revision this replica wrote, if it still holds it
	cursor, cursorRev, err := p.cursor(ctx)
	if err != nil {
		return true, err
	}
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(p.Config.Interval), backoff.WithMaxInterval(p.Config.MaxBackoff), backoff.WithMaxElapsedTime(0))
	renewed := p.Now()
	for ctx.Err() == nil {
		// The lease is renewed a third of the way through: a poll never
		// starts on a lease about to run out, and an idle poller writes
		// the bucket rarely. (A poll outlasting the lease is fenced by the
		// cursor's compare-and-swap.)
		if p.Now().Sub(renewed) >= p.Config.Lease/3 {
			next, err := p.acquire(ctx, rev)
			if err != nil {
				if errors.Is(err, errLost) {
					rev = 0 // another replica's now: not ours to give up
				}
				return true, err
			}
			rev, renewed = next, p.Now()
		}
		page, next, err := p.pollOnce(ctx, cursor, cursorRev)
		cursorRev = next
		switch {
		case errors.Is(err, errLost) || ctx.Err() != nil:
			return true, err
		case err != nil:
			p.Log.Warn().Err(err).Str("poller", p.Name).Msg("report poll failed")
			if p.Failed != nil {
				p.Failed(err)
			}
			sleep(ctx, bo.NextBackOff())
			continue
		}
		bo.Reset()
		if p.Stored != nil {
			p.Stored(page.Reports)
		}
		cursor = page.Next
		if !page.More {
			sleep(ctx, p.Config.Interval)
		}
	}
	return true, ctx.Err()
}

// pollOnce polls one page and stores it, within the lease's length: a
// provider that never answers (no request of a poll has a deadline of its
// own) fails the poll, which is tried again, instead of stopping the
// account's reports on this replica for good.
func (p *Poller) pollOnce(ctx context.Context, cursor []byte, cursorRev uint64) (*Page, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, p.Config.Lease)
	defer cancel()
	page, err := p.Source.Poll(ctx, cursor, p.Config.PageSize)
	if err != nil {
		return nil, cursorRev, err
	}
	cursorRev, err = p.store(ctx, page, cursor, cursorRev)
	return page, cursorRev, err
}

// halfSpent says whether half the time ctx had left at start is spent: a
// source making several provider requests in one poll stops there and
// keeps the rest for the next poll, so that the poll and its storing end
// within pollOnce's deadline even with a slow provider or rate limit (a
// poll that outlasted it would fail every time and move nothing on).
func halfSpent(ctx context.Context, start time.Time) bool {
	dl, ok := ctx.Deadline() // on the wall clock, as start is
	return ok && time.Since(start) > dl.Sub(start)/2
}

// store publishes page's reports, then saves its cursor (read at
// cursorRev) if nobody moved it since, then completes the page.
func (p *Poller) store(ctx context.Context, page *Page, cursor []byte, cursorRev uint64) (uint64, error) {
	if len(page.Reports) == 0 && page.Complete == nil && bytes.Equal(page.Next, cursor) {
		return cursorRev, nil // nothing new: nothing to write
	}
	if len(page.Reports) > 0 {
		if err := Publish(ctx, p.JS, page.Reports); err != nil {
			return cursorRev, err
		}
	}
	rev, err := p.saveCursor(ctx, page.Next, cursorRev)
	if err != nil {
		return cursorRev, err
	}
	if page.Complete != nil {
		if err := page.Complete(ctx); err != nil {
			return rev, fmt.Errorf("complete: %w", err)
		}
	}
	return rev, nil
}

// acquire takes or renews the lease; rev is the revision this replica
// last wrote (0: none). It returns errLost when another replica holds it.
func (p *Poller) acquire(ctx context.Context, rev uint64) (uint64, error) {
	val, err := json.Marshal(lease{Holder: p.Holder, Until: p.Now().Add(p.Config.Lease)})
	if err != nil {
		return 0, err
	}
	if rev != 0 {
		return p.cas(p.KV.Update(ctx, p.leaseKey(), val, rev))
	}
	e, err := p.KV.Get(ctx, p.leaseKey())
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return p.cas(p.KV.Create(ctx, p.leaseKey(), val))
	case err != nil:
		return 0, err
	}
	var cur lease
	if e.Operation() == jetstream.KeyValuePut {
		if err := json.Unmarshal(e.Value(), &cur); err != nil {
			return 0, fmt.Errorf("report: lease %s: %w", p.leaseKey(), err)
		}
	}
	if cur.Holder != "" && cur.Holder != p.Holder && p.Now().Before(cur.Until) {
		return 0, errLost
	}
	return p.cas(p.KV.Update(ctx, p.leaseKey(), val, e.Revision()))
}

// release gives the lease up at once, so another replica need not wait
// for it to run out.
func (p *Poller) release(rev uint64) {
	if rev == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.KV.Delete(ctx, p.leaseKey(), jetstream.LastRevision(rev))
}

func (p *Poller) cursor(ctx context.Context) ([]byte, uint64, error) {
	e, err := p.KV.Get(ctx, p.cursorKey())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	return e.Value(), e.Revision(), nil
}

func (p *Poller) saveCursor(ctx context.Context, cursor []byte, rev uint64) (uint64, error) {
	if rev == 0 {
		return p.cas(p.KV.Create(ctx, p.cursorKey(), cursor))
	}
	return p.cas(p.KV.Update(ctx, p.cursorKey(), cursor, rev))
}

// cas turns a compare-and-swap conflict into errLost.
func (p *Poller) cas(rev uint64, err error) (uint64, error) {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return 0, errLost
	}
	return rev, err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
