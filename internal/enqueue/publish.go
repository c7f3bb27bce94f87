package enqueue

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/streams"
)

const (
	// publishTimeout bounds the wait for one PubAck.
	publishTimeout = 30 * time.Second
	// maxPendingBytes bounds the bytes of the publishes awaiting their ack,
	// so that big campaign jobs do not pile up in memory.
	maxPendingBytes = 64 << 20
	// publishRetries is how often a failed async publish is retried
	// synchronously.
	publishRetries = 2
)

// pubJob is what the publisher needs to know of a job.
type pubJob struct {
	ID      string
	Account string
	Kind    string
	// Urgent is the job's priority (job.Job.Urgent): it picks the subject.
	Urgent     bool
	Recipients int
	Data       []byte
	// At is where the job comes from, for messages: FILE:LINE, or the
	// campaign's CSV and the line of its first row; "" for flags.
	At string
}

// where is At as a message prefix.
func (j pubJob) where() string {
	if j.At == "" {
		return ""
	}
	return j.At + ": "
}

// subject is where the job is published: talkrelay.jobs.<account>.<kind>,
// with ".urgent" appended for an urgent job.
func (j pubJob) subject() string { return streams.JobSubjectFor(j.Account, j.Kind, j.Urgent) }

// publishStats counts the publisher's outcomes.
type publishStats struct {
	// Stored: jobs the stream stored for the first time.
	Stored           int
	StoredRecipients int
	// Duplicates: jobs whose id the stream already had (PubAck.Duplicate).
	Duplicates int
	// Failed: jobs whose publish failed or whose ack did not come.
	Failed int
}

// publisher publishes jobs asynchronously with at most maxPending (and
// maxPendingBytes) awaiting their PubAck, and collects the acks in order in
// one goroutine.
type publisher struct {
	ctx context.Context // ends the retries
	js  jetstream.JetStream
	con *console

	// onStored and onDuplicate, if set, are called from the collector
	// goroutine for each acknowledged job.
	onStored    func(pubJob)
	onDuplicate func(pubJob)

	mu       sync.Mutex
	cond     *sync.Cond
	pending  int
	bytes    int
	maxCount int

	futures chan pending
	done    chan struct{}
	stats   publishStats // written by the collector only, until done
}

type pending struct {
	job pubJob
	fut jetstream.PubAckFuture
	err error // set when PublishMsgAsync itself failed
}

func newPublisher(ctx context.Context, js jetstream.JetStream, maxPending int, con *console) *publisher {
	p := &publisher{
		ctx:      ctx,
		js:       js,
		con:      con,
		maxCount: maxPending,
		futures:  make(chan pending, maxPending),
		done:     make(chan struct{}),
	}
	p.cond = sync.NewCond(&p.mu)
	go p.collect()
	return p
}

// Publish sends j to its subject (streams.JobSubjectFor: the urgent one
// for an urgent job) with Nats-Msg-Id set to its id. It blocks while too
// many publishes await their ack; the outcome is counted when the ack
// comes. It returns an error only when ctx ended.
func (p *publisher) Publish(ctx context.Context, j pubJob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.acquire(len(j.Data))
	msg := nats.NewMsg(j.subject())
	msg.Data = j.Data
	fut, err := p.js.PublishMsgAsync(msg, jetstream.WithMsgID(j.ID))
	// Data is referenced by the pending message until its ack; the caller
	// must not reuse it.
	p.futures <- pending{job: j, fut: fut, err: err}
	return nil
}

// acquire waits for room for one more publish of n bytes. A publish larger
// than the byte budget goes alone.
func (p *publisher) acquire(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.pending >= p.maxCount || (p.pending > 0 && p.bytes+n > maxPendingBytes) {
		// Every pending publish ends, by ack, error or publishTimeout, so
		// this wait is bounded.
		p.cond.Wait()
	}
	p.pending++
	p.bytes += n
}

func (p *publisher) release(n int) {
	p.mu.Lock()
	p.pending--
	p.bytes -= n
	p.mu.Unlock()
	p.cond.Signal()
}

// collect waits for the acks in publish order; they arrive in about that
// order, so waiting on the oldest first costs nothing.
func (p *publisher) collect() {
	defer close(p.done)
	for pd := range p.futures {
		ack, err := pd.ack()
		retried := false
		if err != nil && pd.fut != nil {
			ack, err = p.retry(pd, err)
			retried = true
		}
		p.release(len(pd.job.Data))
		switch {
		case err != nil:
			p.stats.Failed++
			p.con.Printf("%spublish job %s to %s: %v\n", pd.job.where(), pd.job.ID, pd.job.subject(), err)
		// A retry acked as a duplicate most likely means that the first
		// attempt was stored and only its ack was lost: it counts as
		// stored by this run.
		case ack.Duplicate && !retried:
			p.stats.Duplicates++
			if p.onDuplicate != nil {
				p.onDuplicate(pd.job)
			}
		default:
			p.stats.Stored++
			p.stats.StoredRecipients += pd.job.Recipients
			if p.onStored != nil {
				p.onStored(pd.job)
			}
		}
	}
}

func (pd pending) ack() (*jetstream.PubAck, error) {
	if pd.err != nil {
		return nil, pd.err
	}
	select {
	case ack := <-pd.fut.Ok():
		return ack, nil
	case err := <-pd.fut.Err():
		return nil, err
	}
}

// retry publishes a job again after its async publish failed (ack timeout,
// no responders while a stream leader is elected). The same Nats-Msg-Id
// makes it safe: a copy the server did store is acked as a duplicate.
func (p *publisher) retry(pd pending, err error) (*jetstream.PubAck, error) {
	for range publishRetries {
		if p.ctx.Err() != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(p.ctx, publishTimeout)
		msg := nats.NewMsg(pd.fut.Msg().Subject)
		msg.Data = pd.job.Data
		var ack *jetstream.PubAck
		ack, err = p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(pd.job.ID), jetstream.WithRetryAttempts(5))
		cancel()
		if err == nil {
			return ack, nil
		}
	}
	return nil, err
}

// Close waits for every outstanding ack and returns the counts.
func (p *publisher) Close() publishStats {
	close(p.futures)
	<-p.done
	return p.stats
}
