package ratelimit

import (
	"cmp"
	"context"
	"slices"
)

// A recipients limit counts requests of many sizes, and a schedule of
// tokens lets one request of n recipients go right after a second full of
// small ones: up to n more than the limit in a second. So recipients are
// scheduled on a log instead: every request of the last window, with its
// time and size, in the account's key, and a request goes at the first
// time every window of that length around it holds at most the limit with
// it. Each request costs one update of the key.

// maxLog bounds the log: beyond it the two closest entries merge into one
// that counts in every window touching either, which never undercounts.
const maxLog = 32

// sent is one request in the log: N recipients sent between From and To
// (the same instant unless entries were merged), Unix nanoseconds.
type sent struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
	N    int   `json:"n"`
}

// placeRecipients logs a request of n recipients at the first time from
// on that keeps every window within the limit, and returns that time.
func (g *Global) placeRecipients(ctx context.Context, n int, from int64) (int64, error) {
	var at int64
	err := g.update(ctx, func(b *budget, now int64) bool {
		limit := g.recipientsLimit * b.factorAt(now)
		// Entries no window from now on reaches, and damaged ones (further
		// ahead than any pause can push a request), go.
		b.Log = slices.DeleteFunc(b.Log, func(e sent) bool { return e.To < now-g.window || e.From > now+int64(2*MaxPause) })
		// A request larger than the limit goes alone in its window.
		at = earliest(b.Log, max(from, b.Recipients), min(float64(n), limit), limit, g.window)
		b.Log = logRequest(b.Log, sent{From: at, To: at, N: n})
		return true
	})
	return at, err
}

// earliest is the first time from t0 on at which n more recipients keep
// every window of length w in log within limit: t0 itself, or a time an
// entry leaves the windows that reach back to it.
func earliest(log []sent, t0 int64, n, limit float64, w int64) int64 {
	candidates := []int64{t0}
	for _, e := range log {
		if c := e.To + w; c > t0 {
			candidates = append(candidates, c)
		}
	}
	slices.Sort(candidates)
	for _, t := range candidates {
		if fits(log, t, n, limit, w) {
			return t
		}
	}
	return candidates[len(candidates)-1] // past every entry's windows: always fits
}

// fits tells whether n recipients at t keep every window [u, u+w) that
// holds t within limit. The most such a window holds is at its earliest
// start, or right after an entry comes into it.
func fits(log []sent, t int64, n, limit float64, w int64) bool {
	starts := []int64{t - w + 1}
	for _, e := range log {
		if e.From > t && e.From < t+w {
			starts = append(starts, e.From-w+1)
		}
	}
	for _, u := range starts {
		sum := n
		for _, e := range log {
			if e.From < u+w && e.To >= u {
				sum += float64(e.N)
			}
		}
		if sum > limit+1e-9 {
			return false
		}
	}
	return true
}

// logRequest adds e to log, kept in order of From and within maxLog.
func logRequest(log []sent, e sent) []sent {
	i, _ := slices.BinarySearchFunc(log, e.From, func(x sent, t int64) int { return cmp.Compare(x.From, t) })
	log = slices.Insert(log, i, e)
	if len(log) <= maxLog {
		return log
	}
	closest := 0
	for j := 1; j+1 < len(log); j++ {
		if log[j+1].From-log[j].To < log[closest+1].From-log[closest].To {
			closest = j
		}
	}
	a, b := log[closest], log[closest+1]
	log[closest] = sent{From: a.From, To: max(a.To, b.To), N: a.N + b.N}
	return slices.Delete(log, closest+1, closest+2)
}
