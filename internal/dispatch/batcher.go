package dispatch

import (
	"sync"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// Batcher groups items by batch key into batches of at most the key's
// limit. A batch is emitted as soon as it is full (the size trigger) or
// when its first item has waited Linger (the time trigger).
//
// Emit may block (that is the backpressure from busy providers); Batcher
// never calls it with its lock held.
type Batcher struct {
	linger time.Duration
	limit  func(providers.Key) int
	emit   func(providers.Key, []*Item)

	mu      sync.Mutex
	pending map[providers.Key]*pendingBatch
}

type pendingBatch struct {
	items []*Item
	limit int
	timer *time.Timer
}

// NewBatcher returns a batcher. limit gives the batch size of a key; emit
// receives each batch.
func NewBatcher(linger time.Duration, limit func(providers.Key) int, emit func(providers.Key, []*Item)) *Batcher {
	return &Batcher{linger: linger, limit: limit, emit: emit, pending: map[providers.Key]*pendingBatch{}}
}

type emission struct {
	key   providers.Key
	items []*Item
}

// Add queues items, each under its own key. Consecutive items of one
// Source (a job's recipients) share their key: it is looked up once for
// them, not once per item.
func (b *Batcher) Add(items []*Item) {
	var out []emission
	b.mu.Lock()
	var src *Source
	var p *pendingBatch // src's batch
	for i, it := range items {
		if it.Source != src || p == nil {
			src = it.Source
			p = b.pending[it.Key]
		}
		if p == nil {
			limit := b.limit(it.Key)
			// Sized for what this call may put in it, so that a large job's
			// batches are allocated once.
			p = &pendingBatch{items: make([]*Item, 0, min(limit, max(64, len(items)-i))), limit: limit}
			b.pending[it.Key] = p
			if b.linger > 0 {
				key, p := it.Key, p
				p.timer = time.AfterFunc(b.linger, func() { b.expire(key, p) })
			}
		}
		p.items = append(p.items, it)
		if len(p.items) >= p.limit {
			out = append(out, b.detach(it.Key, p))
			p = nil
		}
	}
	if b.linger <= 0 {
		for k, p := range b.pending {
			out = append(out, b.detach(k, p))
		}
	}
	b.mu.Unlock()
	for _, e := range out {
		b.emit(e.key, e.items)
	}
}

// detach removes p from the pending set; b.mu is held.
func (b *Batcher) detach(k providers.Key, p *pendingBatch) emission {
	if p.timer != nil {
		p.timer.Stop()
	}
	delete(b.pending, k)
	return emission{k, p.items}
}

func (b *Batcher) expire(k providers.Key, p *pendingBatch) {
	b.mu.Lock()
	if b.pending[k] != p { // already emitted by the size trigger or Flush
		b.mu.Unlock()
		return
	}
	e := b.detach(k, p)
	b.mu.Unlock()
	b.emit(e.key, e.items)
}

// Flush emits every pending batch now.
func (b *Batcher) Flush() {
	b.mu.Lock()
	out := make([]emission, 0, len(b.pending))
	for k, p := range b.pending {
		out = append(out, b.detach(k, p))
	}
	b.mu.Unlock()
	for _, e := range out {
		b.emit(e.key, e.items)
	}
}

// Pending counts items waiting in unsent batches.
func (b *Batcher) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, p := range b.pending {
		n += len(p.items)
	}
	return n
}
