package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/cancel"
	"github.com/talkrelay/talkrelay/internal/decide"
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A job is cancelled through talkrelay.cancel.<account> (answerCancel): the
// worker that answers stores a cancel marker in the talkrelay_cancels
// bucket, which every worker watches into memory (cancelSet) before it
// consumes, so the marker holds across replicas and restarts. A worker
// checks it where a send can still be stopped — when a delivery starts
// (a queued job, a retry or a held reservation coming due), when a
// recipient is due for another try, and in the fence right before a
// provider request — and ends the recipient canceled instead. A pending
// lookup is still made (the provider may have taken the message); a
// recipient it proves untaken ends canceled instead of being sent again.
// Provider-side reservations are cancelled by the answering worker, through
// the provider (providers.ReservationCanceler), and recipients waiting in a
// schedule (a retry, a held reservation) are ended at once (cancelheld.go).
//
// The answering worker replies once its own watch has delivered the marker
// (at most 5 s; then it adds it itself), so by then it knows every marker
// stored before too.
//
// The check costs one atomic load while the worker knows no cancel, and a
// map lookup under a read lock after: no NATS request on the send path.

// cancelSet holds the cancelled jobs, by account and job id.
type cancelSet struct {
	n    atomic.Int64
	mu   sync.RWMutex
	jobs map[cancelID]bool
}

type cancelID struct{ account, job string }

// marker is the value of a cancel marker.
type marker struct {
	Version int       `json:"version"`
	Account string    `json:"account"`
	JobID   string    `json:"job_id"`
	At      time.Time `json:"at"`
}

func (c *cancelSet) add(account, job string) {
	c.mu.Lock()
	if !c.jobs[cancelID{account, job}] {
		c.jobs[cancelID{account, job}] = true
		c.n.Add(1)
	}
	c.mu.Unlock()
}

// await returns once the watch has delivered the marker of job of account
// (and so every marker stored before it), or adds it when ctx ends first.
func (c *cancelSet) await(ctx context.Context, account, job string) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !c.has(account, job) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			c.add(account, job)
			return
		}
	}
}

// has reports whether job of account is cancelled.
func (c *cancelSet) has(account, job string) bool {
	if c.n.Load() == 0 {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.jobs[cancelID{account, job}]
}

// startCancels loads every cancel marker, keeps watching for new ones until
// ctx ends, and serves the cancel subjects of the worker's accounts. It
// returns once the markers stored so far are loaded.
func (w *Worker) startCancels(setupCtx, ctx context.Context) (stop func(), err error) {
	kv, err := w.js.KeyValue(setupCtx, streams.CancelsBucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", streams.CancelsBucket, err)
	}
	w.cancelKV = kv
	w.cancels = &cancelSet{jobs: map[cancelID]bool{}}
	watcher, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", streams.CancelsBucket, err)
	}
	loaded := make(chan struct{})
	go func() {
		first := true
		for e := range watcher.Updates() {
			if e == nil {
				if first {
					first = false
					close(loaded)
				}
				continue
			}
			var m marker
			if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &m) == nil {
				w.cancels.add(m.Account, m.JobID)
			}
		}
	}()
	select {
	case <-loaded:
	case <-setupCtx.Done():
		_ = watcher.Stop()
		return nil, fmt.Errorf("load cancel markers: %w", setupCtx.Err())
	}
	var subs []*nats.Subscription
	stop = func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		_ = watcher.Stop()
	}
	// At most cancelConcurrency requests are answered at once; more wait in
	// the subscriptions' buffers (NATS drops what overflows them, and those
	// requesters time out): a flood of cancels cannot pile up goroutines.
	slots := make(chan struct{}, cancelConcurrency)
	for _, a := range w.accounts {
		sub, err := w.nc.QueueSubscribe(streams.CancelSubject(a.Name), "talkrelay-cancel", func(m *nats.Msg) {
			slots <- struct{}{}
			go func() {
				defer func() { <-slots }()
				w.answerCancel(a, m)
			}()
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("subscribe %s: %w", streams.CancelSubject(a.Name), err)
		}
		subs = append(subs, sub)
	}
	return stop, nil
}

// cancelConcurrency is how many cancel requests a worker answers at once.
const cancelConcurrency = 8

// canceled reports whether d's job is cancelled.
func (d *delivery) canceled() bool { return d.w.cancels.has(d.job.Account, d.job.ID) }

// canceledDecision ends a recipient of a cancelled job.
func canceledDecision() decide.Decision {
	return decide.Decision{Verdict: retry.Final, Status: result.Canceled, Outcome: &providers.Outcome{
		Class: providers.Permanent, Reason: result.ReasonCanceled, Message: "the job was cancelled before this recipient was sent"}}
}

// dropCanceled ends the items of cancelled jobs canceled and returns the
// others: a provider request is the last point where a send is stoppable.
func (w *Worker) dropCanceled(items []*dispatch.Item) []*dispatch.Item {
	c := w.cancels
	if c.n.Load() == 0 {
		return items
	}
	kept := make([]*dispatch.Item, 0, len(items))
	var dropped []itemRef
	c.mu.RLock()
	for _, it := range items {
		ref := refOf(it)
		if c.jobs[cancelID{ref.d.job.Account, ref.d.job.ID}] {
			dropped = append(dropped, ref)
			continue
		}
		kept = append(kept, it)
	}
	c.mu.RUnlock()
	for _, ref := range dropped {
		ref.d.final(ref.pos, canceledDecision())
	}
	return kept
}

// answerCancel answers the cancel request m for account a.
func (w *Worker) answerCancel(a *account, m *nats.Msg) {
	var reply *client.CancelReply
	if req, err := cancel.DecodeRequest(m.Data); err != nil {
		reply = &client.CancelReply{Version: 1, Account: a.Name, Outcome: client.CancelInvalid, Results: map[client.Status]int{}, Message: err.Error()}
	} else {
		reply = w.cancelJob(a, req.JobID)
	}
	data, _ := json.Marshal(reply)
	if err := m.Respond(data); err != nil {
		w.log.Warn().Err(err).Str("account", a.Name).Msg("cannot answer a cancel request")
	}
}

// cancelJob cancels job jobID of account a: it stores the marker, cancels
// the job's provider-side reservations and says what it found.
func (w *Worker) cancelJob(a *account, jobID string) *client.CancelReply {
	reply := &client.CancelReply{Version: 1, JobID: jobID, Account: a.Name, Outcome: client.CancelStored, Results: map[client.Status]int{}}
	fail := func(what string, err error) *client.CancelReply {
		reply.Outcome, reply.Message = client.CancelError, fmt.Sprintf("%s: %v; ask again", what, err)
		return reply
	}
	ctx, done := context.WithTimeout(context.Background(), 30*time.Second)
	defer done()
	now := w.clock.Now()
	at, existed, err := w.storeMarker(ctx, a.Name, jobID, now)
	if err != nil {
		return fail("cannot store the cancel marker", err)
	}
	reply.CanceledAt = &at
	if existed {
		reply.Outcome = client.CancelAlready
	}
	seen, stopSeen := context.WithTimeout(ctx, 5*time.Second)
	w.cancels.await(seen, a.Name, jobID)
	stopSeen()
	finals := map[int]*result.Event{}
	err = w.jobResults(ctx, a.Name, jobID, func(data []byte) {
		var ev result.Event
		if json.Unmarshal(data, &ev) == nil && ev.JobID == jobID {
			if cur := finals[ev.RecipientIndex]; cur == nil || cur.Status != result.Canceled {
				finals[ev.RecipientIndex] = &ev
			}
		}
	})
	if err != nil {
		return fail("cannot read the job's results", err)
	}
	if _, err := w.cancelWaiting(ctx, a, jobID, finals, now); err != nil {
		return fail("cannot cancel the job's waiting recipients", err)
	}
	canceled, cancelErr := w.cancelReservations(ctx, a, finals, now)
	reply.ReservationsCanceled = canceled
	for _, ev := range finals {
		reply.Results[client.Status(ev.Status)]++
		if ev.Status != result.Canceled {
			reply.TooLate++
		}
	}
	reply.Message = cancelMessage(reply, cancelErr)
	w.log.Info().Str("account", a.Name).Str("job_id", jobID).Str("outcome", string(reply.Outcome)).
		Int("too_late", reply.TooLate).Int("reservations_canceled", canceled).Msg("cancel request")
	return reply
}

// storeMarker stores the cancel marker of jobID, or reads the one stored
// before: it returns when the job was first cancelled and whether it was
// before now.
func (w *Worker) storeMarker(ctx context.Context, account, jobID string, now time.Time) (time.Time, bool, error) {
	key := streams.CancelKey(account, jobID)
	data, _ := json.Marshal(marker{Version: 1, Account: account, JobID: jobID, At: now})
	_, err := w.cancelKV.Create(ctx, key, data)
	if err == nil {
		return now, false, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return time.Time{}, false, err
	}
	e, err := w.cancelKV.Get(ctx, key)
	if err != nil {
		return time.Time{}, false, err
	}
	var m marker
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return time.Time{}, false, fmt.Errorf("cancel marker %s: %w", key, err)
	}
	return m.At, true, nil
}

// cancelRecipients is what each HTTP request of a provider-side cancel
// counts against the account's recipients_per_second: none, since it
// sends nothing (a poller's requests count none either). It counts one
// request against requests_per_second, like any provider call.
const cancelRecipients = 0

// cancelReservations cancels, through the provider, the reservations of
// the job's accepted recipients that the provider holds (reserved_by
// provider), one provider request at a time, each HTTP request of which
// first waits for the account's rate limiter, and replaces each of their
// entries in finals by the canceled result it stores. A reserved job
// never shares a request with another job (providers.Key.OwnJob), so no other
// job's recipient is cancelled with it. It returns how many recipients it
// cancelled, and the first error.
func (w *Worker) cancelReservations(ctx context.Context, a *account, finals map[int]*result.Event, now time.Time) (int, error) {
	byRequest := map[string][]*result.Event{}
	for _, ev := range finals {
		if ev.Status == result.Accepted && ev.ReservedBy == result.ReservedByProvider && ev.ProviderRequestID != "" {
			byRequest[ev.ProviderRequestID] = append(byRequest[ev.ProviderRequestID], ev)
		}
	}
	if len(byRequest) == 0 {
		return 0, nil
	}
	canceler, ok := a.Client.(providers.ReservationCanceler)
	if !ok {
		return 0, fmt.Errorf("provider %s cannot cancel a reservation", a.Provider)
	}
	n := 0
	var firstErr error
	for requestID, evs := range byRequest {
		if err := canceler.CancelReservation(providers.WithRequestGate(ctx, a.RequestGate(cancelRecipients)), job.Kind(evs[0].Kind), requestID); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("request %s: %w", requestID, err)
			}
			continue
		}
		for _, ev := range evs {
			c := *ev
			c.Status, c.Retryable, c.Reason, c.Code, c.CodeName = result.Canceled, false, result.ReasonCanceled, "", ""
			c.Message, c.Detail, c.Time = "the provider's reservation was cancelled", "", now
			m := store.Result(store.Origin{}, &c)
			m.Header.Set(jetstream.MsgIDHeader, store.ResultID(c.JobID, c.RecipientIndex, 0)+"/canceled")
			if _, err := w.js.PublishMsg(ctx, m); err != nil {
				// The reservation is cancelled at the provider; the next
				// cancel request finds the result missing and retries the
				// provider (which then says it is cancelled already).
				return n, fmt.Errorf("store canceled result: %w", err)
			}
			finals[ev.RecipientIndex] = &c
			n++
		}
	}
	return n, firstErr
}

// cancelMessage says in words what reply found.
func cancelMessage(r *client.CancelReply, providerErr error) string {
	s := "cancel stored"
	if r.Outcome == client.CancelAlready {
		s = "cancelled before, at " + r.CanceledAt.UTC().Format(time.RFC3339)
	}
	if len(r.Results) == 0 {
		s += "; no recipient has a result yet: the job's recipients end canceled when a worker takes it (also if it is published later)"
	} else {
		s += fmt.Sprintf("; %d recipient(s) canceled, %d too late (they keep their results); any other ends canceled", r.Results[client.Canceled], r.TooLate)
	}
	if r.ReservationsCanceled > 0 {
		s += fmt.Sprintf("; %d recipient(s) of provider-side reservations cancelled", r.ReservationsCanceled)
	}
	if providerErr != nil {
		s += "; cannot cancel the provider-side reservation: " + providerErr.Error()
	}
	return s
}

// jobResults calls each with every result stored for job jobID of account,
// oldest first. It reads them through an ordered consumer: a cancel is
// rare, and the consumer needs no cleaning up.
func (w *Worker) jobResults(ctx context.Context, account, jobID string, each func([]byte)) error {
	c, err := w.js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.JobResultsFilter(account, jobID)}})
	if err != nil {
		return err
	}
	pending := c.CachedInfo().NumPending
	for read := uint64(0); read < pending; {
		batch, err := c.Fetch(int(min(pending-read, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		n := read
		for m := range batch.Messages() {
			each(m.Data())
			read++
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if read == n {
			return fmt.Errorf("read %d of the job's %d results", read, pending)
		}
	}
	return nil
}
