package worker

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/intake"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// lagEvery is how often the lanes' consumer info is read for the lag
// gauges.
var lagEvery = 15 * time.Second

// laneLag is one lane's backlog as its consumer reports it.
type laneLag struct {
	account    string // a configured account, or otherAccount
	lane       string // "normal" or "urgent"
	pending    uint64 // in the stream, not yet delivered
	ackPending uint64 // delivered, not yet acknowledged
}

// watchLag reads the jobs stream's consumers every lagEvery until ctx
// ends and hands their backlog to the metrics. Every replica reads the
// same consumers: the values are the lanes', not this replica's.
func (w *Worker) watchLag(ctx context.Context) {
	t := time.NewTicker(lagEvery)
	defer t.Stop()
	for {
		w.readLag(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readLag reads every lane consumer's info in one listing. Lanes of
// accounts not configured here (see intake's discovered lanes) add up under
// otherAccount, so that no producer's account name becomes a label.
func (w *Worker) readLag(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, lagEvery)
	defer cancel()
	stream, err := w.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		w.log.Debug().Err(err).Msg("lag: jobs stream")
		return
	}
	type key struct{ account, lane string }
	byName := map[string]key{}
	lags := map[key]*laneLag{}
	for name := range w.accounts {
		for _, urgent := range []bool{false, true} {
			k := key{name, laneKind(urgent)}
			byName[intake.LaneName(w.cfg.Worker.Consumer, name, urgent)] = k
			lags[k] = &laneLag{account: k.account, lane: k.lane}
		}
	}
	for _, urgent := range []bool{false, true} {
		k := key{otherAccount, laneKind(urgent)}
		lags[k] = &laneLag{account: k.account, lane: k.lane}
	}
	list := stream.ListConsumers(ctx)
	for ci := range list.Info() {
		k, ok := byName[ci.Name]
		if !ok {
			if !strings.HasPrefix(ci.Name, w.cfg.Worker.Consumer+"-") {
				continue // not a lane
			}
			k = key{otherAccount, laneKind(strings.HasSuffix(ci.Name, "-"+streams.UrgentSuffix))}
		}
		l := lags[k]
		l.pending += ci.NumPending
		l.ackPending += uint64(ci.NumAckPending)
	}
	if err := list.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		w.log.Debug().Err(err).Msg("lag: list the jobs consumers")
		return // keep the last complete reading
	}
	out := make([]laneLag, 0, len(lags))
	for _, l := range lags {
		out = append(out, *l)
	}
	w.metrics.lag.Store(&out)
}

func laneKind(urgent bool) string {
	if urgent {
		return "urgent"
	}
	return "normal"
}
