// Package intake pulls send jobs from JetStream for the worker.
//
// Every account has two lanes, each a durable pull consumer on the jobs
// stream shared by all replicas: the normal lane (the account's jobs and
// its retries) and the urgent lane (its urgent jobs and their retries). A
// lane has its own goroutines and its own credits, so a backlog, a slow
// provider or a low rate limit on one account never holds up another
// account's jobs, and an account's urgent jobs never wait behind its queued
// normal ones.
//
// A lane pulls only what its credits allow: at most Config.PullBatch
// messages and Config.LaneBytes bytes held at once (a lane holding nothing
// may always take one message, however large). A lane holding messages
// pulls again once a quarter of either is free (refill). Pulls are one-shot
// requests (pull.go) whose messages are held as they arrive, so no
// message waits unseen in a client-side buffer: from the moment a message
// arrives until the worker settles it (Msg.Done), intake keeps it alive
// with progress acks, and NATS never hands a job this process holds to
// another replica because it waited here. Should this process stop long
// enough (paused, cut off from NATS) for NATS to hand a message to another
// replica after all, intake tells (Msg.Lost; see lease.go).
//
// Jobs of an account that has no lane in this worker's config (a mistyped
// account, or one configured on other replicas only) are found by looking
// at the stream's subjects periodically; intake opens lanes for them too,
// so that the worker can reject them with a reason instead of leaving them
// in the stream.
package intake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// Config tunes intake.
type Config struct {
	// Consumer prefixes the lanes' durable consumer names:
	// <Consumer>-<account> and <Consumer>-<account>-urgent.
	Consumer      string
	AckWait       time.Duration // default 30s, as NATS's; see also lease.go
	MaxDeliver    int
	MaxAckPending int // per lane, across replicas
	// PullBatch is the most messages one lane of this process holds.
	PullBatch int
	// LaneBytes is the most message bytes one lane of this process holds.
	LaneBytes int
	// Starters is how many goroutines per lane start jobs.
	Starters int
	// PullWait is how long one pull request waits for messages (default 5s,
	// at most AckWait/4: a message's lease starts with the request that
	// brought it).
	PullWait time.Duration
	// Discover is how often the stream is searched for accounts without a
	// lane (default 10s).
	Discover time.Duration
	Log      zerolog.Logger
	// Paused, when set, tells whether an account's lanes must not pull
	// now (its provider preflight failed): their jobs stay in the stream,
	// untouched, for this or another replica to take once the account is
	// ready. It is asked before every pull and every PullWait while true.
	Paused func(account string) bool
}

// Handler starts jobs: it receives the messages a lane took, in order,
// and must call Done on each once it is settled (acknowledged, handed back
// or terminated). It is called from the lane's starter goroutines; a lane
// has Config.Starters calls running at most.
type Handler func(lane *Lane, msgs []*Msg)

// Intake runs the lanes of one worker process.
type Intake struct {
	cfg    Config
	js     jetstream.JetStream
	handle Handler

	mu      sync.Mutex
	lanes   map[string]*Lane // by consumer name
	ctx     context.Context  // ends pulling
	cancel  context.CancelFunc
	pullers sync.WaitGroup
	workers sync.WaitGroup
	stopped bool

	// connCtx is cancelled when the connection to NATS is lost: it ends
	// the pulls and consumer updates sent before (see watchConn).
	connMu   sync.Mutex
	connCtx  context.Context
	connLost context.CancelFunc

	stopAlive func()
	alive     sync.WaitGroup
	ka        *keepAlives
}

// maxDiscovered caps the lanes opened for unconfigured accounts at once.
const maxDiscovered = 32

// startGroup caps how many queued messages one Handler call receives.
const startGroup = 256

// New returns intake for the configured accounts (their names, which are
// valid subject tokens). It does nothing until Start.
func New(js jetstream.JetStream, cfg Config, handle Handler) *Intake {
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.PullWait <= 0 {
		cfg.PullWait = 5 * time.Second
	}
	cfg.PullWait = min(cfg.PullWait, cfg.AckWait/4)
	if cfg.Discover <= 0 {
		cfg.Discover = 10 * time.Second
	}
	cfg.Starters = max(cfg.Starters, 1)
	return &Intake{cfg: cfg, js: js, handle: handle, lanes: map[string]*Lane{}}
}

// Start removes the single consumer of earlier versions (its filter
// overlaps the lanes'; its unacknowledged jobs return to the stream and
// come again through the lanes), creates or updates the lanes of accounts
// and starts pulling. ctx bounds the setup only.
func (in *Intake) Start(ctx context.Context, accounts []string) error {
	if err := in.removeLegacy(ctx); err != nil {
		return err
	}
	ka, err := newKeepAlives(in.js.Conn(), in.cfg.AckWait)
	if err != nil {
		return fmt.Errorf("intake: subscribe to keep-alive answers: %w", err)
	}
	in.ka = ka
	in.ctx, in.cancel = context.WithCancel(context.Background())
	in.connCtx, in.connLost = context.WithCancel(context.Background())
	if nc := in.js.Conn(); nc != nil {
		lost := nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED)
		in.pullers.Add(1)
		go in.watchConn(nc, lost)
	}
	for _, a := range accounts {
		for _, urgent := range []bool{false, true} {
			l := in.newLane(a, urgent, true)
			if err := l.ensure(ctx); err != nil {
				in.Stop()
				in.Close()
				return err
			}
			in.run(l)
		}
	}
	aliveCtx, stopAlive := context.WithCancel(context.Background())
	in.stopAlive = stopAlive
	in.alive.Add(1)
	go in.keepAlive(aliveCtx)
	in.pullers.Add(1)
	go in.discover()
	return nil
}

func (in *Intake) removeLegacy(ctx context.Context) error {
	_, err := in.js.Consumer(ctx, streams.JobsStream, in.cfg.Consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("intake: look up consumer %s: %w", in.cfg.Consumer, err)
	}
	in.cfg.Log.Warn().Str("consumer", in.cfg.Consumer).
		Msg("removing the single jobs consumer of an earlier talkrelay: jobs are now pulled per account; the jobs it held come again through the account consumers")
	if err := in.js.DeleteConsumer(ctx, streams.JobsStream, in.cfg.Consumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("intake: delete consumer %s: %w", in.cfg.Consumer, err)
	}
	return nil
}

// watchConn ends, whenever the connection to NATS is lost, the pulls and
// consumer updates sent on it. Their answers will not come: a server
// going down drops the requests it has not answered, and NATS forgets the
// pull requests of a client that went away. Without this a lane would
// wait for such a pull to expire (PullWait) or such an update to time out
// before pulling again on the new connection. Pulls sent while the client
// reconnects are kept: the client sends them once reconnected.
func (in *Intake) watchConn(nc *nats.Conn, lost chan nats.Status) {
	defer in.pullers.Done()
	defer nc.RemoveStatusListener(lost)
	for {
		select {
		case <-in.ctx.Done():
			return
		case <-lost:
			in.connMu.Lock()
			in.connLost()
			in.connCtx, in.connLost = context.WithCancel(context.Background())
			in.connMu.Unlock()
		}
	}
}

// connected returns a context that ends when the connection to NATS is
// lost.
func (in *Intake) connected() context.Context {
	in.connMu.Lock()
	defer in.connMu.Unlock()
	return in.connCtx
}

// Stop stops pulling, hands the messages taken but not started back to
// NATS (Nak) and waits until every starter returned. Messages being
// handled stay held, and kept alive, until their Done or Close.
func (in *Intake) Stop() {
	in.mu.Lock()
	in.stopped = true
	in.mu.Unlock()
	if in.cancel == nil {
		return // never started
	}
	in.cancel()
	// Every puller closes its lane's queue as it returns; the starters
	// then hand back what is left and return.
	in.pullers.Wait()
	in.workers.Wait()
}

// Close stops keeping held messages alive; call it after Stop, once the
// worker settled what it could.
func (in *Intake) Close() {
	if in.stopAlive != nil {
		in.stopAlive()
		in.alive.Wait()
	}
	if in.ka != nil {
		in.ka.close()
	}
}

// Held counts the messages this process holds, started or not.
func (in *Intake) Held() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, l := range in.lanes {
		n += l.heldCount()
	}
	return n
}

// laneList copies the lanes, for work done without in.mu; in.mu is held.
func (in *Intake) laneList() []*Lane {
	out := make([]*Lane, 0, len(in.lanes))
	for _, l := range in.lanes {
		out = append(out, l)
	}
	return out
}

// run starts l's puller and starters.
func (in *Intake) run(l *Lane) {
	in.mu.Lock()
	in.lanes[l.name] = l
	in.mu.Unlock()
	in.pullers.Add(1)
	go func() {
		defer in.pullers.Done()
		l.pull()
		l.closeQueue()
		// A closed discovered lane goes once its last pull is over; the
		// account's next jobs open a new one. (Lanes stopped by Stop stay:
		// what their handlers hold is still counted and kept alive.)
		in.mu.Lock()
		if l.retired && in.lanes[l.name] == l {
			delete(in.lanes, l.name)
		}
		in.mu.Unlock()
	}()
	for range in.cfg.Starters {
		in.workers.Add(1)
		go func() {
			defer in.workers.Done()
			l.start(in.handle)
		}()
	}
}

// keepAlive sends a keep-alive (a confirmed progress ack) for every held
// message whose last one was asked for a quarter of the ack wait ago, so
// that NATS never redelivers what this process holds and its lease runs on.
func (in *Intake) keepAlive(ctx context.Context) {
	defer in.alive.Done()
	every := keepAliveEvery(in.cfg.AckWait)
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			in.mu.Lock()
			lanes := in.laneList()
			in.mu.Unlock()
			for _, l := range lanes {
				now := mono() // before the requests go out
				for _, m := range l.due(now, int64(every)) {
					in.ka.send(m, now)
				}
			}
		}
	}
}

// discover opens lanes for accounts with jobs in the stream and no lane.
func (in *Intake) discover() {
	defer in.pullers.Done()
	t := time.NewTicker(in.cfg.Discover)
	defer t.Stop()
	for {
		in.sweep()
		select {
		case <-in.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (in *Intake) sweep() {
	ctx, cancel := context.WithTimeout(in.ctx, 10*time.Second)
	defer cancel()
	stream, err := in.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		in.cfg.Log.Debug().Err(err).Msg("intake: look for unconfigured accounts")
		return
	}
	present := map[string]bool{} // lane names with messages
	for _, filter := range []string{streams.JobsPrefix + ".>", streams.RetryPrefix + ".>"} {
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			in.cfg.Log.Debug().Err(err).Msg("intake: look for unconfigured accounts")
			return
		}
		for subj := range info.State.Subjects {
			if acct, urgent, ok := laneOf(subj); ok {
				present[laneName(in.cfg.Consumer, acct, urgent)] = true
				in.openDiscovered(ctx, acct, urgent)
			}
		}
	}
	// Close discovered lanes that are empty and idle. A closing lane stays
	// listed, and what it takes kept alive, until its last pull is over
	// (see run).
	in.mu.Lock()
	for name, l := range in.lanes {
		if !l.configured && !l.retired && !present[name] && l.heldCount() == 0 {
			l.retired = true
			l.retire()
		}
	}
	in.mu.Unlock()
}

func (in *Intake) openDiscovered(ctx context.Context, acct string, urgent bool) {
	name := laneName(in.cfg.Consumer, acct, urgent)
	in.mu.Lock()
	_, have := in.lanes[name]
	discovered := 0
	for _, l := range in.lanes {
		if !l.configured {
			discovered++
		}
	}
	stopped := in.stopped
	in.mu.Unlock()
	if have || stopped || discovered >= maxDiscovered {
		return
	}
	l := in.newLane(acct, urgent, false)
	if err := l.ensure(ctx); err != nil {
		in.cfg.Log.Warn().Err(err).Str("consumer", name).Msg("intake: cannot open a lane for jobs of an unconfigured account")
		return
	}
	in.cfg.Log.Info().Str("consumer", name).Msg("intake: jobs found for an account this worker does not serve; taking them to reject them")
	in.run(l)
}

// laneOf parses a jobs or retry subject into its lane.
func laneOf(subj string) (acct string, urgent bool, ok bool) {
	tok := strings.Split(subj, ".")
	jobs, retry := strings.HasPrefix(subj, streams.JobsPrefix+"."), strings.HasPrefix(subj, streams.RetryPrefix+".")
	switch {
	case jobs && len(tok) == 4, retry && len(tok) == 3:
		return tok[2], false, true
	case jobs && len(tok) == 5 && tok[4] == streams.UrgentSuffix, retry && len(tok) == 4 && tok[3] == streams.UrgentSuffix:
		return tok[2], true, true
	}
	return "", false, false
}

// laneName is the durable consumer name of an account's lane. Account
// tokens that are not plain names (only producers' mistakes are) are
// hashed.
func laneName(prefix, acct string, urgent bool) string {
	name := prefix + "-" + acct
	if streams.Token(acct) != acct {
		name = prefix + "-x" + streams.HashToken(acct)
	}
	if urgent {
		name += "-" + streams.UrgentSuffix
	}
	return name
}

// LaneName is the durable consumer name of an account's lane, for those
// who read the lanes' consumer info (the worker's lag metrics).
func LaneName(prefix, acct string, urgent bool) string { return laneName(prefix, acct, urgent) }
