package enqueue

import (
	"context"
	"sync"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/streams"
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

// publisher counts and reports the outcomes of a client.Publisher, which
// publishes the jobs asynchronously with at most --max-pending awaiting
// their ack.
type publisher struct {
	p   *client.Publisher
	con *console

	// onStored and onDuplicate, if set, are called from the client
	// Publisher's goroutine for each acknowledged job.
	onStored    func(pubJob)
	onDuplicate func(pubJob)

	mu   sync.Mutex
	jobs map[*client.Encoded]pubJob // published, not yet reported

	stats publishStats // written by report only, until Close
}

func newPublisher(c *client.Client, maxPending int, con *console) *publisher {
	p := &publisher{con: con, jobs: map[*client.Encoded]pubJob{}}
	p.p = c.NewPublisher(maxPending, p.report)
	return p
}

// Publish sends j to its subject (the urgent one for an urgent job) with
// Nats-Msg-Id set to its id. It blocks while too many publishes await
// their ack; the outcome is counted when the ack comes. It returns an
// error only when ctx ended.
func (p *publisher) Publish(ctx context.Context, j pubJob) error {
	e := &client.Encoded{ID: j.ID, Account: j.Account, Kind: client.Kind(j.Kind), Urgent: j.Urgent, Data: j.Data}
	p.mu.Lock()
	p.jobs[e] = j
	p.mu.Unlock()
	err := p.p.PublishEncoded(ctx, e)
	if err != nil {
		p.mu.Lock()
		delete(p.jobs, e)
		p.mu.Unlock()
	}
	return err
}

func (p *publisher) report(pub client.Published) {
	p.mu.Lock()
	j := p.jobs[pub.Job]
	delete(p.jobs, pub.Job)
	p.mu.Unlock()
	switch {
	case pub.Err != nil:
		p.stats.Failed++
		p.con.Printf("%s%v\n", j.where(), pub.Err)
	case pub.Ack.Duplicate:
		p.stats.Duplicates++
		if p.onDuplicate != nil {
			p.onDuplicate(j)
		}
	default:
		p.stats.Stored++
		p.stats.StoredRecipients += j.Recipients
		if p.onStored != nil {
			p.onStored(j)
		}
	}
}

// Close waits for every outstanding ack and returns the counts.
func (p *publisher) Close() publishStats {
	p.p.Close()
	return p.stats
}
