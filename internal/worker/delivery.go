package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkrelay/talkrelay/internal/decide"
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/intake"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/reconcile"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// A delivery is one message of the jobs consumer — a send job, or a retry
// envelope holding some of a job's recipients — from its delivery until it
// is settled. Every recipient of a delivery is decided exactly once: a final
// result, or a place in a follow-up envelope. The message is acknowledged
// only once all of that is stored in JetStream; if any store fails it is
// handed back (nak) and its redelivery reconciles against what was stored.
type delivery struct {
	w       *Worker
	msg     *intake.Msg     // its Seq, Delivered and lane (urgent or not) are the delivery's
	jobSeq  uint64          // stream sequence of the job message of the lineage; 0 if unknown
	job     *job.Job        // recipients: those this delivery carries
	pending []retry.Pending // parallel to job.Recipients
	round   int             // 0 for a fresh job, n for the n-th envelope
	envID   string          // the envelope's id; empty for a fresh job
	acct    *account
	// log is d's logger: use logger(), which builds it on first use (most
	// deliveries never log; a nil pointer takes 120 bytes less than a
	// logger and its sync.Once in every delivery).
	log     atomic.Pointer[zerolog.Logger]
	span    trace.Span
	traceID string
	recv    time.Time

	undecided atomic.Int64 // recipients without a verdict yet
	unstored  atomic.Int64 // stores in flight, plus one until all verdicts are in
	failed    atomic.Bool  // a store failed: nak instead of ack
	closed    atomic.Bool  // settled or abandoned

	mu       sync.Mutex
	again    []int // positions due for another attempt
	lookup   []int // positions due for a lookup
	dueAt    [2]time.Time
	deadEnds []int    // original indexes talkrelay gave up on
	why      []string // reasons for deadEnds, for the dead letter
	finalMsg string   // dead letter reason for a job rejected as a whole

	finals storedFinals // read before finals of a redelivery or a lookup
	// sources are what its items share (dispatch.Source), by whether they
	// carry template variables (the one part of the batch key a recipient
	// decides); built by the first item of each.
	sources [2]atomic.Pointer[dispatch.Source]
	// guard is the template and sender guard's last verdict on the job
	// (guard.go).
	guard atomic.Pointer[guardVerdict]
	// storedEnvelopes names the follow-up envelopes an earlier delivery of
	// this message stored, found when reconciling: new ones take other
	// names. Written before any recipient is submitted.
	storedEnvelopes map[string]bool
	// unrecorded is span when the job's span is not recorded (see
	// startJobSpan), and onePending pending of a fresh one-recipient job:
	// held here, they cost no allocation of their own.
	unrecorded unrecordedSpan
	onePending [1]retry.Pending
	tracked    tracked // its place among the in-flight deliveries (tracker)
	// items are the dispatcher's items of its positions (prepare), made
	// at once by run: one allocation, not one a recipient, and none for
	// one recipient (oneItem). A position is prepared at most once a
	// delivery: sent, or looked up and then sent.
	items   []dispatch.Item
	oneItem [1]dispatch.Item

	resultsOnce sync.Once
	results     store.Results // builds d's result messages; see resultMsgs
}

// account is a dispatch account with its retry policy.
type account struct {
	*dispatch.Account
	policy   retry.Policy
	resolver providers.Resolver // nil: unknown outcomes cannot be looked up
	// holdNightAds: ad jobs that come in Kakao's ad night wait for 08:00
	// KST instead of being rejected (night_ads: hold).
	holdNightAds bool
	// dailyQuota is the account's daily_quota: hold or fail.
	dailyQuota string
}

// itemRef is what the dispatcher hands back with each outcome.
type itemRef struct {
	d   *delivery
	pos int
}

// refOf is the delivery and position of item it.
func refOf(it *dispatch.Item) itemRef { return itemRef{it.Owner.(*delivery), it.Pos} }

// jobLog is the logger of a job message: its subject, job id and account.
func (w *Worker) jobLog(msg *intake.Msg, j *job.Job, round int) zerolog.Logger {
	c := w.log.With().Str("subject", msg.Subject())
	if j != nil && j.ID != "" {
		c = c.Str("job_id", j.ID).Str("account", j.Account)
	}
	if round > 0 {
		c = c.Int("round", round)
	}
	return c.Logger()
}

// debug returns a debug event on d's logger, or nil (a no-op event) when
// debug logging is off, without building the logger.
func (d *delivery) debug() *zerolog.Event {
	if d.w.log.GetLevel() > zerolog.DebugLevel {
		return nil
	}
	return d.logger().Debug()
}

// logger returns d's logger, building it on first use: most deliveries
// never log.
func (d *delivery) logger() *zerolog.Logger {
	if l := d.log.Load(); l != nil {
		return l
	}
	l := d.w.jobLog(d.msg, d.job, d.round)
	d.log.CompareAndSwap(nil, &l)
	return d.log.Load()
}

func (w *Worker) newDelivery(msg *intake.Msg, j *job.Job) *delivery {
	d := &delivery{w: w, msg: msg, job: j, jobSeq: msg.Seq}
	if w.log.GetLevel() <= zerolog.DebugLevel {
		d.recv = time.Now() // real clock: recv measures how long the delivery took, which only a debug log says
	}
	d.span = w.startJobSpan(store.ExtractTrace(context.Background(), msg.Headers()), &d.unrecorded, msg.Subject())
	d.traceID = d.span.SpanContext().TraceID().String()
	d.undecided.Store(int64(len(j.Recipients)))
	d.unstored.Store(1)
	w.track.add(d)
	return d
}

// readJob decodes and admits a job message: it returns the job and its
// account, or nil after rejecting the message (dead letter and results).
//
// The subject decides whose job it is: NATS grants publishing per subject,
// so talkrelay.jobs.<account>.<kind> is what the producer was allowed to
// send. A job whose body names another account or kind is rejected, and
// every rejection is reported under the subject's account, never under an
// account the body merely claims (its results would count as the traces of
// that account's job of the same id).
func (w *Worker) readJob(msg *intake.Msg) (*job.Job, *account) {
	data := msg.Data()
	subjAcct, subjKind, _, _ := streams.ParseJobSubject(msg.Subject())
	if len(data) > w.cfg.Worker.MaxJobBytes {
		w.reject(msg, probeJob(data, msg.Headers(), subjAcct), result.ReasonOversized,
			fmt.Sprintf("job is %d bytes, more than worker.max_job_bytes (%d)", len(data), w.cfg.Worker.MaxJobBytes), false)
		return nil, nil
	}
	j, err := job.Decode(data)
	if err != nil {
		w.reject(msg, probeJob(data, msg.Headers(), subjAcct), result.ReasonInvalidJob, err.Error(), false)
		return nil, nil
	}
	compactMetadata(j)
	if n := len(j.Metadata); n > job.MaxMetadataBytes {
		// Every result repeats the metadata: this much of it could make a
		// result larger than NATS takes. The rejection leaves it out too.
		bare := *j
		bare.Metadata = nil
		w.reject(msg, &bare, result.ReasonInvalidJob,
			fmt.Sprintf("invalid job: metadata is %d bytes as compact JSON, more than %d (it is repeated in every result event)", n, job.MaxMetadataBytes), false)
		return nil, nil
	}
	if why := subjectMismatch(j, subjAcct, subjKind); why != "" {
		bySubject := *j
		bySubject.Account = subjAcct
		w.reject(msg, &bySubject, result.ReasonInvalidJob, why, true)
		return nil, nil
	}
	acct := w.accounts[j.Account]
	if acct == nil {
		w.reject(msg, j, result.ReasonUnknownAccount, fmt.Sprintf("account %q is not configured on this worker", j.Account), true)
		return nil, nil
	}
	if j.Deadline != nil && decide.Expired(j.Deadline, w.clock.Now()) { // the clock read only when it matters
		w.reject(msg, j, result.ReasonDeadlineExceeded,
			"deadline "+j.Deadline.UTC().Format(time.RFC3339)+" passed before the job was sent", true)
		return nil, nil
	}
	return j, acct
}

// subjectMismatch says how job j disagrees with the account token and kind
// of the subject it was published to, or "" when it agrees. Account names
// that are no subject token are written "_" in subjects (streams.Token).
func subjectMismatch(j *job.Job, subjAcct, subjKind string) string {
	switch {
	case streams.Token(j.Account) != subjAcct:
		return fmt.Sprintf("the job's account %q is not the account of the subject it was published to (%q): publish it to %s",
			j.Account, subjAcct, streams.JobSubject(j.Account, string(j.Kind)))
	case string(j.Kind) != subjKind:
		return fmt.Sprintf("the job's kind %q is not the kind of the subject it was published to (%q): publish it to %s",
			j.Kind, subjKind, streams.JobSubject(j.Account, string(j.Kind)))
	}
	return ""
}

// jobDelivery returns the delivery of job j of msg, to be run.
func (w *Worker) jobDelivery(msg *intake.Msg, j *job.Job, acct *account) *delivery {
	d := w.newDelivery(msg, j)
	d.acct = acct
	if len(j.Recipients) == 1 {
		d.pending = d.onePending[:]
	} else {
		d.pending = make([]retry.Pending, len(j.Recipients))
	}
	for i := range d.pending {
		d.pending[i].Index = i
	}
	return d
}

// envelopeDelivery returns the delivery of retry envelope msg, to be run,
// or nil after rejecting it.
func (w *Worker) envelopeDelivery(msg *intake.Msg) *delivery {
	env, err := retry.Decode(msg.Data())
	if err != nil {
		// Only workers write envelopes; one that cannot be read is a bug or
		// tampering. Keep it for inspection.
		w.reject(msg, &job.Job{}, result.ReasonInvalidJob, err.Error(), false)
		return nil
	}
	j := env.Job
	if msg.Delivered == 1 { // came due; redeliveries count in talkrelay_jobs_redelivered_total
		lookups := 0
		for _, p := range env.Pending {
			if p.Lookup {
				lookups++
			}
		}
		w.metrics.due(w.accountLabel(j.Account), len(env.Pending)-lookups, lookups)
	}
	acct := w.accounts[j.Account]
	if acct == nil {
		w.reject(msg, j, result.ReasonUnknownAccount, fmt.Sprintf("account %q is no longer configured on this worker", j.Account), true)
		return nil
	}
	d := w.newDelivery(msg, j)
	d.acct, d.pending, d.round, d.envID, d.jobSeq = acct, env.Pending, env.Round, env.ID, env.JobSeq
	return d
}

// runSafely runs d; if handling it crashes, d is abandoned and handed back
// to NATS, which redelivers it until worker.max_deliver (then it is
// dead-lettered as poison). Its redelivery reconciles with whatever was
// stored before the crash.
func (w *Worker) runSafely(d *delivery, scan *reconcile.Scan) {
	defer func() {
		if r := recover(); r != nil {
			d.logger().Error().Interface("panic", r).Msg("job handler crashed; the job will be redelivered")
			w.abandon(d, time.Second)
		}
	}()
	w.run(d, scan)
}

// abandon hands d back to NATS for redelivery after delay, once.
func (w *Worker) abandon(d *delivery, delay time.Duration) {
	if !w.owns(d) || !d.closed.CompareAndSwap(false, true) {
		return
	}
	w.track.remove(d)
	d.span.End()
	_ = d.msg.NakWithDelay(delay)
	d.msg.Done()
}

// run sends or looks up every recipient of d; with a scan (the job was
// delivered before, or left traces of an earlier delivery; d is registered
// with the scan), it first reconciles with what was stored.
func (w *Worker) run(d *delivery, scan *reconcile.Scan) {
	var skip map[int]bool // recipients with a final result stored; only a redelivery has any
	if scan != nil {
		d.logger().Info().Uint64("delivery", d.msg.Delivered).Msg("redelivered: reconciling with stored results and send records")
		var err error
		at := time.Now()
		if skip, err = w.reconcile(d, scan); err != nil {
			// Without knowing what was sent, nothing may be sent: hand the
			// message back and try again later.
			d.logger().Warn().Err(err).Msg("cannot reconcile the redelivered job; retrying later")
			w.abandon(d, 5*time.Second)
			return
		}
		d.finals.seed(skip, at)
	}
	items := make([]*dispatch.Item, 0, len(d.pending))
	if len(d.pending) == 1 {
		d.items = d.oneItem[:]
	} else {
		d.items = make([]dispatch.Item, len(d.pending))
	}
	var lookups []int
	for pos := range d.pending {
		p := &d.pending[pos]
		switch {
		case skip[p.Index]:
			d.decided() // its final result is already stored
		case d.job.Deadline != nil && decide.Expired(d.job.Deadline, w.clock.Now()): // the clock read only when it matters
			d.final(pos, decide.Stopped(p))
		case p.Lookup:
			lookups = append(lookups, pos)
		case d.canceled():
			d.final(pos, canceledDecision())
		case d.held(pos): // waits for its reservation (reserve.go)
		default:
			if it := w.prepare(d, pos); it != nil {
				items = append(items, it)
			}
		}
	}
	w.disp.Submit(items)
	w.lookup(d, lookups)
}

// prepare checks recipient pos for the provider and returns its item, or
// decides it rejected and returns nil. An ad due in Kakao's ad night that
// was tried before (or whose account holds night ads) is not checked
// but scheduled for 08:00 KST: the window is decided once, before the
// first try.
func (w *Worker) prepare(d *delivery, pos int) *dispatch.Item {
	p := &d.pending[pos]
	if p.Attempts > 0 || p.Unsent > 0 || d.acct.holdNightAds {
		if now := w.clock.Now(); decide.AdNight(d.job, now) {
			d.apply(pos, decide.Decision{Verdict: retry.Again, Due: now})
			return nil
		}
	}
	r := &d.job.Recipients[pos]
	// Checked in place: a Message of its own would escape to the heap too.
	it := &d.items[pos]
	*it = dispatch.Item{Message: providers.Message{Job: d.job, Index: p.Index, Recipient: r, Attempt: p.Attempts + 1}, Pos: pos}
	if err := d.acct.Client.Check(&it.Message); err != nil {
		ev := d.event(pos)
		ev.Status, ev.Reason, ev.Message = result.Rejected, result.ReasonInvalidRecipient, err.Error()
		w.storeResult(d, ev)
		d.decided()
		return nil
	}
	it.Source = d.source(r)
	if w.guarded(d, pos, &it.Key) {
		return nil
	}
	return it
}

// source returns what the items of d that share recipient r's batch key
// share, building it for the first.
func (d *delivery) source(r *job.Recipient) *dispatch.Source {
	v := 0
	if providers.Variables(r) {
		v = 1
	}
	if s := d.sources[v].Load(); s != nil {
		return s
	}
	d.sources[v].CompareAndSwap(nil, &dispatch.Source{Key: providers.KeyOf(d.job, r, d.acct.Sender),
		Span: d.span.SpanContext(), Urgent: d.msg.Lane().Urgent, Owner: d})
	return d.sources[v].Load()
}

// onOutcome receives the dispatcher's outcomes. A zero sentAt means the
// provider was never called (the send record could not be stored): that
// try is not an attempt.
func (w *Worker) onOutcome(it *dispatch.Item, o *providers.Outcome, sentAt time.Time) {
	ref := refOf(it)
	d, p := ref.d, &ref.d.pending[ref.pos]
	if o.Class == providers.Unknown && !sentAt.IsZero() {
		w.metrics.unknown(d.acct.Name, d.acct.Provider)
	}
	if sentAt.IsZero() {
		p.Unsent++
		d.apply(ref.pos, decide.NotSent(d.acct.policy, p, o, d.job.Deadline, w.clock.Now()))
		return
	}
	p.Attempts = it.Attempt
	p.Lookup, p.Lookups = false, 0
	if p.FirstSentAt.IsZero() {
		p.FirstSentAt = sentAt
	}
	p.LastSentAt = sentAt
	dec := d.after(ref.pos, o)
	if dec.Verdict != retry.Final {
		p.Last = retry.FromProvider(o) // for its envelope; a final result has it already
	}
	d.apply(ref.pos, dec)
}

// decide applies the account's retry policy to recipient pos after o.
func (d *delivery) decide(pos int, o *providers.Outcome) {
	d.apply(pos, d.after(pos, o))
}

// after is the account's retry policy's decision for recipient pos after o.
func (d *delivery) after(pos int, o *providers.Outcome) decide.Decision {
	return decide.After(d.acct.policy, &d.pending[pos], o, d.job.Deadline, d.w.clock.Now(), d.acct.resolver != nil)
}

// apply carries out decision dec for recipient pos; another try of an ad
// due in Kakao's ad night waits for 08:00 KST.
func (d *delivery) apply(pos int, dec decide.Decision) {
	if dec.Verdict == retry.Again && d.canceled() {
		dec = canceledDecision()
	}
	if dec.Verdict == retry.Again {
		dec = decide.OutsideAdNight(dec, &d.pending[pos], d.job)
	}
	switch dec.Verdict {
	case retry.Final:
		d.final(pos, dec)
	case retry.Again, retry.Lookup:
		d.follow(pos, dec.Verdict == retry.Lookup, dec.Due)
	}
}

// follow puts recipient pos in the follow-up envelope of its kind (a
// lookup or another try), due no earlier than due.
func (d *delivery) follow(pos int, lookup bool, due time.Time) {
	d.mu.Lock()
	k := 0
	if lookup {
		k = 1
		d.lookup = append(d.lookup, pos)
	} else {
		d.again = append(d.again, pos)
	}
	if due.After(d.dueAt[k]) {
		d.dueAt[k] = due
	}
	d.mu.Unlock()
	d.decided()
}

// final stores recipient pos's final result, as final decision dec says,
// and counts its verdict.
func (d *delivery) final(pos int, dec decide.Decision) {
	d.storeFinal(pos, dec)
	d.decided()
}

// storeFinal stores recipient pos's final result, as final decision dec
// says. A redelivery or a lookup first makes sure no final result of the
// recipient is stored already (see storedFinals).
func (d *delivery) storeFinal(pos int, dec decide.Decision) {
	p := &d.pending[pos]
	if d.finals.on() && d.alreadyFinal(p.Index) {
		return
	}
	var event result.Event // not kept past storeResult: on the stack
	ev := &event
	d.fillEvent(ev, pos, dec.At)
	if why := decide.Final(ev, p, dec); why != "" {
		// talkrelay gave up on it (attempts, age, deadline, lookups): the
		// job goes to the dead letters. A plain refusal by the provider is
		// reported by its result alone.
		d.mu.Lock()
		d.deadEnds = append(d.deadEnds, p.Index)
		d.why = append(d.why, why)
		d.mu.Unlock()
	}
	switch {
	case ev.Status == result.Accepted:
		ev.ReservedBy = d.acct.reservedBy(d.job)
	case ev.Status == result.Canceled && d.job.ReserveAt != nil && ev.ProviderRequestID != "":
		ev.ReservedBy = d.acct.reservedBy(d.job) // found cancelled at the provider by a lookup
	case ev.Status == result.Canceled && d.job.ReserveAt != nil:
		ev.ReservedBy = result.ReservedByTalkrelay // cancelled while talkrelay held it
	}
	d.w.storeResult(d, ev)
}

func (d *delivery) event(pos int) *result.Event {
	ev := new(result.Event)
	d.fillEvent(ev, pos, time.Time{})
	return ev
}

// fillEvent makes ev the result event of recipient pos, without its
// outcome, known at at (zero: now).
func (d *delivery) fillEvent(ev *result.Event, pos int, at time.Time) {
	if at.IsZero() {
		at = d.w.clock.Now() // the worker's clock, which tests set
	}
	ev.Fill(d.job, pos, d.acct.Provider, at)
	ev.RecipientIndex = d.pending[pos].Index
	ev.TraceID = d.traceID
}

// decided counts a verdict; the last one finishes the delivery.
func (d *delivery) decided() {
	if d.undecided.Add(-1) == 0 {
		d.w.finish(d)
	}
}

// finish stores the follow-up envelopes and the dead letter of d, then
// releases the guard that kept d from settling before now.
func (w *Worker) finish(d *delivery) {
	d.mu.Lock()
	groups := [2][]int{d.again, d.lookup}
	due := d.dueAt
	d.mu.Unlock()
	limit := w.envelopeLimit()
	for k, positions := range groups {
		chunk := 0
		for len(positions) > 0 {
			n := min(len(positions), envelopeMax)
			w.storeEnvelopes(d, positions[:n], due[k], k == 1, &chunk, limit)
			positions = positions[n:]
		}
	}
	d.mu.Lock()
	dead, why := d.deadEnds, d.why // with the recipients too large to retry
	d.mu.Unlock()
	if len(dead) > 0 {
		w.storeDeadLetter(d, dead, why)
	}
	w.stored(d, nil)
}

// envelopeMax caps the recipients of one envelope.
const envelopeMax = 1000

// envelopeRoom is what an envelope's schedule needs besides the envelope:
// its headers (ids, schedule, target, trace context), and those the
// scheduler adds when it delivers it.
const envelopeRoom = 1024

// envelopeLimit is the most bytes an encoded envelope may have: its
// schedule must fit both the server's max_payload and the jobs stream's
// max_msg_size.
func (w *Worker) envelopeLimit() int {
	return min(int(w.nc.MaxPayload()), int(w.cfg.Streams.MaxMsgSize)) - envelopeRoom
}

// storeEnvelopes stores the recipients at positions in follow-up envelopes
// due at at, numbered from *chunk on (skipping the names of envelopes an
// earlier delivery stored), each at most limit bytes: the
// recipients' retry state can make an envelope larger than the job it
// came from. Positions that do not fit one envelope are halved until they
// do; a recipient whose envelope would not fit alone is not retried: its
// final result is stored, and the job goes to the dead letters.
func (w *Worker) storeEnvelopes(d *delivery, positions []int, at time.Time, lookup bool, chunk *int, limit int) {
	name := reconcile.EnvelopeName(lookup, *chunk)
	for d.storedEnvelopes[name] {
		*chunk++
		name = reconcile.EnvelopeName(lookup, *chunk)
	}
	env, data := d.envelope(positions, at, lookup, name)
	switch {
	case len(data) <= limit:
		*chunk++
		w.storeEnvelope(d, env, data, name)
	case len(positions) == 1:
		pos := positions[0]
		o := d.pending[pos].Last.Provider()
		dec := decide.Decision{Verdict: retry.Final, Status: result.Failed, Outcome: &o,
			Detail: fmt.Sprintf("not retried: its retry state (%d bytes) would not fit in a NATS message (max_payload or the jobs stream's max_msg_size)", len(data))}
		if lookup {
			dec.Status, dec.Detail = result.Unknown, strings.Replace(dec.Detail, "retried", "looked up", 1)
		}
		d.logger().Warn().Int("bytes", len(data)).Int("limit", limit).Bool("lookup", lookup).Msg("recipient too large to schedule; its final result is stored")
		d.storeFinal(pos, dec)
	default:
		half := len(positions) / 2
		w.storeEnvelopes(d, positions[:half], at, lookup, chunk, limit)
		w.storeEnvelopes(d, positions[half:], at, lookup, chunk, limit)
	}
}

// envelope builds the follow-up envelope named name of the recipients at
// positions, due at at, and encodes it.
func (d *delivery) envelope(positions []int, at time.Time, lookup bool, name string) (*retry.Envelope, []byte) {
	env := &retry.Envelope{ID: d.id() + "." + name, DueAt: at, Job: new(job.Job), Round: d.round + 1, JobSeq: d.jobSeq}
	*env.Job = *d.job
	env.Job.Recipients = make([]job.Recipient, len(positions))
	env.Pending = make([]retry.Pending, len(positions))
	for i, pos := range positions {
		env.Job.Recipients[i] = d.job.Recipients[pos]
		env.Pending[i] = d.pending[pos]
		env.Pending[i].Lookup = lookup
	}
	data, err := env.Encode()
	if err != nil {
		panic(err) // only our own types
	}
	return env, data
}

// storeEnvelope writes env, encoded as data, first into the send-records
// bucket (so that a redelivery of d finds it), then as a schedule on the
// jobs stream.
func (w *Worker) storeEnvelope(d *delivery, env *retry.Envelope, data []byte, name string) {
	rec := w.records.EnvelopeRecord(d.job.ID, d.id(), name, data)
	d.debug().Int("recipients", len(env.Pending)).Bool("lookup", env.Pending[0].Lookup).Time("due", env.DueAt).Msg("recipients scheduled")
	w.metrics.scheduled(d.acct.Name, env.Pending[0].Lookup, len(env.Pending))
	w.storeThen(d, rec, func() { w.scheduleEnvelope(d, env) })
}

// scheduleEnvelope stores env as a schedule that delivers it to the retry
// subject when due. Its Nats-Msg-Id makes a second store a no-op.
func (w *Worker) scheduleEnvelope(d *delivery, env *retry.Envelope) {
	// The server runs schedules on the real clock: the envelope's due time
	// on the worker's clock becomes a delay from the real now.
	w.store(d, store.Schedule(env, d.msg.Lane().Urgent, w.clock.Now(), time.Now(), d.span))
}

func (w *Worker) storeDeadLetter(d *delivery, indexes []int, why []string) {
	dl := &store.DeadLetter{Account: d.job.Account, JobID: d.job.ID, Subject: d.msg.Subject(), Recipients: indexes}
	if d.round == 0 {
		dl.Data = d.msg.Data()
	} else if data, err := d.jobOf(indexes).Encode(); err == nil {
		dl.Data = data // an envelope's job: only the recipients at indexes
	}
	dl.Reason = fmt.Sprintf("%d recipient(s) ended without delivery: %s", len(indexes), summarize(why))
	d.logger().Warn().Int("recipients", len(indexes)).Str("reason", dl.Reason).Msg("job dead-lettered")
	w.metrics.deadLetter(gaveUp)
	w.store(d, dl.MsgWithin(d.msg.Seq, int(w.nc.MaxPayload())))
}

// jobOf is d's job with only the recipients at original indexes, in that
// order.
func (d *delivery) jobOf(indexes []int) *job.Job {
	pos := make(map[int]int, len(d.pending))
	for i := range d.pending {
		pos[d.pending[i].Index] = i
	}
	part := *d.job
	part.Recipients = make([]job.Recipient, 0, len(indexes))
	for _, idx := range indexes {
		if i, ok := pos[idx]; ok {
			part.Recipients = append(part.Recipients, d.job.Recipients[i])
		}
	}
	return &part
}

// summarize lists distinct reasons with their counts.
func summarize(why []string) string {
	counts := map[string]int{}
	var order []string
	for _, s := range why {
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%d× %s", counts[s], s)
	}
	return strings.Join(parts, "; ")
}

// storeResult publishes one final result event of d.
func (w *Worker) storeResult(d *delivery, ev *result.Event) {
	if !w.owns(d) {
		return
	}
	w.metrics.result(ev, w.accounts[ev.Account] != nil)
	results := d.resultMsgs()
	if !d.span.IsRecording() {
		d.unstored.Add(1)
		w.pub.PublishResult(results.Msg(ev), d)
		return
	}
	// A sampled job: a producer span per result, which the result's trace
	// context names, ends once the result is stored.
	m := results.Msg(ev)
	_, span := w.tracer.Start(trace.ContextWithSpan(context.Background(), d.span), "talkrelay.results publish",
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", m.Subject),
			attribute.Int("talkrelay.recipient_index", ev.RecipientIndex),
			attribute.String("talkrelay.status", string(ev.Status))))
	m.SetTrace(span)
	if !w.owns(d) {
		span.End()
		m.Release()
		return
	}
	d.unstored.Add(1)
	w.pub.PublishResult(m, store.StoredFunc(func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		w.stored(d, err)
	}))
}

// resultMsgs returns the builder of d's result messages, set up at its
// first result: they share its job sequence and, unless the job is
// sampled (each result then names a span of its own), its trace context.
func (d *delivery) resultMsgs() *store.Results {
	d.resultsOnce.Do(func() {
		o := store.Origin{Seq: d.msg.Seq, JobSeq: d.jobSeq}
		if !d.span.IsRecording() {
			o.Span = d.span
		}
		d.results.Init(o)
	})
	return &d.results
}

// Stored reports a store of d's made with its result messages (see
// store.Publisher.PublishResult).
func (d *delivery) Stored(err error) { d.w.stored(d, err) }

// store publishes m for d, counting it until it is stored; nothing once
// d is no longer this worker's (see owns).
func (w *Worker) store(d *delivery, m *nats.Msg) {
	if !w.owns(d) {
		return
	}
	d.unstored.Add(1)
	w.pub.Publish(m, func(err error) { w.stored(d, err) })
}

// storeThen publishes first and, once it is stored, runs then (which
// stores more). then runs on its own goroutine: the publisher's callbacks
// must not publish.
func (w *Worker) storeThen(d *delivery, first *nats.Msg, then func()) {
	if !w.owns(d) {
		return
	}
	d.unstored.Add(1)
	w.pub.Publish(first, func(err error) {
		if err != nil {
			w.stored(d, err)
			return
		}
		d.unstored.Add(1) // held by then, released below once then has stored
		go func() {
			then()
			w.stored(d, nil)
		}()
		w.stored(d, nil)
	})
}

func (w *Worker) stored(d *delivery, err error) {
	if err != nil {
		d.failed.Store(true)
		d.logger().Error().Err(err).Msg("could not store to JetStream; the job will be redelivered")
	}
	if d.unstored.Add(-1) == 0 {
		w.settle(d)
	}
}

// settle acknowledges d (terminates it, for a rejected job), or hands it
// back when something could not be stored.
func (w *Worker) settle(d *delivery) {
	if !w.owns(d) || !d.closed.CompareAndSwap(false, true) {
		return // abandoned after a crash (NATS redelivers it) or lost
	}
	defer w.track.remove(d)
	defer d.span.End()
	var err error
	switch {
	case d.failed.Load():
		err = d.msg.Nak()
	case d.finalMsg != "":
		err = d.msg.TermWithReason(d.finalMsg)
	default:
		err = d.msg.Ack()
	}
	d.msg.Done()
	if err != nil {
		d.logger().Warn().Err(err).Msg("job settled but its ack was not sent; NATS will redeliver it")
		return
	}
	d.debug().Dur("took", time.Since(d.recv)).Msg("delivery done")
}

// reject dead-letters a message that cannot be sent at all and publishes
// its rejection: one event per recipient when the job could be read
// (perRecipient), else one event with recipient index -1. The message is
// terminated once all of it is stored.
func (w *Worker) reject(msg *intake.Msg, j *job.Job, reason result.Reason, why string, perRecipient bool) {
	log := w.jobLog(msg, j, 0)
	status := result.Rejected
	if reason == result.ReasonDeadlineExceeded {
		status = result.Failed
	}
	log.Warn().Str("reason", string(reason)).Str("detail", why).Msg("job dead-lettered")
	w.metrics.deadLetter(string(reason))
	var events []*result.Event
	provider := ""
	if a := w.accounts[j.Account]; a != nil {
		provider = a.Provider
	}
	if perRecipient && len(j.Recipients) > 0 {
		for i := range j.Recipients {
			events = append(events, result.ForRecipient(j, i, provider, w.clock.Now()))
		}
	} else {
		events = append(events, result.ForRecipient(j, -1, provider, w.clock.Now()))
	}
	d := w.newDelivery(msg, &job.Job{})
	d.log.Store(&log)
	d.finalMsg = string(reason) + ": " + why
	if msg.Delivered > 1 && j.ID != "" {
		done, err := w.records.Finals(j.Account, j.ID)
		if err != nil {
			// Publish no result without knowing none is stored: the
			// message is handed back and rejected again.
			log.Warn().Err(err).Msg("cannot read stored results of the rejected job; it will be redelivered")
			d.failed.Store(true)
		}
		kept := events[:0]
		for _, ev := range events {
			if err == nil && !done[ev.RecipientIndex] {
				kept = append(kept, ev)
			}
		}
		events = kept
	}
	dl := &store.DeadLetter{Account: j.Account, JobID: j.ID, Subject: msg.Subject(), Reason: d.finalMsg,
		Header: msg.Headers(), Data: msg.Data()}
	w.store(d, dl.MsgWithin(d.msg.Seq, int(w.nc.MaxPayload())))
	for _, ev := range events {
		// The event names the account as its subject does: "_" for none
		// that is a subject token.
		ev.Account = streams.Token(ev.Account)
		ev.Status, ev.Reason, ev.TraceID = status, reason, d.traceID
		if status == result.Failed {
			ev.Detail = why // talkrelay stopped it, as a deadline during retries does
		} else {
			ev.Message = why
		}
		w.storeResult(d, ev)
	}
	w.stored(d, nil)
}

// compactMetadata compacts the job's metadata once, since every result
// event of the job carries it as it is.
func compactMetadata(j *job.Job) {
	if len(j.Metadata) == 0 || !bytes.ContainsAny(j.Metadata, " \t\r\n") {
		return
	}
	var b bytes.Buffer
	if json.Compact(&b, j.Metadata) == nil {
		j.Metadata = b.Bytes()
	}
}

// probeJob reads what it can of a message that is not a valid job (not
// JSON, against the schema, too large) of the given account (its
// subject's, never the one the body claims): its id, kind and
// metadata (when an object), for its rejection. A body without a string id
// takes the id the producer published it with (Nats-Msg-Id in h).
func probeJob(data []byte, h nats.Header, account string) *job.Job {
	var p struct {
		ID       any             `json:"id"`
		Kind     any             `json:"kind"`
		Metadata json.RawMessage `json:"metadata"`
	}
	j := &job.Job{Account: account}
	if json.Unmarshal(data, &p) == nil {
		j.ID, _ = p.ID.(string)
		kind, _ := p.Kind.(string)
		j.Kind = job.Kind(kind)
		if bytes.HasPrefix(p.Metadata, []byte("{")) {
			j.Metadata = p.Metadata
			compactMetadata(j)
		}
	}
	if j.ID == "" {
		j.ID = h.Get(jetstream.MsgIDHeader)
	}
	return j
}
