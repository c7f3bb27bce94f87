package report

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Expiry is the source of an account's expired reports: every accepted
// recipient still without a report Horizon after its result is reported
// expired. It walks the account's accepted results in the results stream
// like Sandbox (its cursor is the results stream sequence of the last one
// it passed) and reads each job's stored reports once a poll; a report
// that comes from the provider later is not published (Window skips a
// recipient that has one), so every accepted recipient ends with exactly
// one report. A recipient cancelled after it was accepted (its final
// result canceled) is not expired: it gets no report.
type Expiry struct {
	JS      jetstream.JetStream
	Store   Store
	Account string
	// Kinds are the job kinds the provider reports; results of other
	// kinds (that its polling never reports) are passed, not expired.
	Kinds   []job.Kind
	Horizon time.Duration
	Now     func() time.Time
	// Lookup, when set, is asked about the recipients due to expire, a
	// page at a time, before they are: a terminal state it finds is
	// reported instead (Kakao: a message answered 100 that its result
	// polling never returned, read by its uid). Gate admits each of its
	// provider requests (the account's rate limit).
	Lookup providers.ReportLookup
	Gate   *providers.RequestGate
}

// maxExpiryLookups bounds the recipients one poll of an Expiry looks up
// (one provider request each, at the account's rate limit), so that a
// poll ends well within the lease it renews between polls; a page that
// reaches it is followed by the next poll at once.
const maxExpiryLookups = 20

// Poll implements Source: at most limit results, a thousand a read.
// A new cursor starts at the end of the results stream: messages accepted
// before the account's polling first started are not expired.
func (x *Expiry) Poll(ctx context.Context, cursor []byte, limit int) (*Page, error) {
	if len(cursor) == 0 {
		seq, err := resultsEnd(ctx, x.JS)
		if err != nil {
			return nil, err
		}
		return &Page{Next: []byte(strconv.FormatUint(seq, 10)), More: true}, nil
	}
	var now time.Time // read only when there is a result to consider
	stored, cancels := newJobs(x.Store, x.Account), canceledIn(x.Store, x.Account)
	var asked []providers.AcceptedMessage // to look up
	var askedEvs []*Event                 // their reports
	page, err := pageOfAccepted(ctx, x.Store, x.Account, cursor, limit, func(r *result.Event) (*Event, bool, error) {
		if now.IsZero() {
			now = x.Now()
		}
		if r.Time.Add(x.Horizon).After(now) {
			return nil, false, nil
		}
		if !slices.Contains(x.Kinds, job.Kind(r.Kind)) {
			return nil, true, nil
		}
		done, err := stored.isReported(ctx, r.JobID, r.RecipientIndex)
		if err == nil && !done {
			done, err = cancels.has(ctx, r.JobID, r.RecipientIndex)
		}
		if err != nil || done {
			return nil, err == nil, err
		}
		ev := fromResult(r, now)
		ev.State, ev.Message = Expired, "no terminal delivery state reported within "+x.Horizon.String()+" of the accepted result"
		if x.Lookup != nil {
			m := providers.AcceptedMessage{JobID: r.JobID, Index: r.RecipientIndex, Code: r.Code,
				RequestID: r.ProviderRequestID, MessageID: r.ProviderMessageID}
			if x.Lookup.LooksUp(&m) {
				if len(asked) == maxExpiryLookups {
					return nil, false, nil // the next poll's
				}
				asked, askedEvs = append(asked, m), append(askedEvs, ev)
			}
		}
		return ev, true, nil
	})
	if err != nil || len(asked) == 0 {
		return page, err
	}
	reps, err := x.Lookup.LookupReports(providers.WithRequestGate(ctx, x.Gate), asked)
	if err == nil && len(reps) != len(asked) {
		err = fmt.Errorf("report: %d reports looked up for %d recipients", len(reps), len(asked))
	}
	if err != nil {
		return nil, err
	}
	for i, rep := range reps {
		if rep != nil {
			askedEvs[i].setReport(rep)
		}
	}
	page.More = page.More || len(asked) == maxExpiryLookups
	return page, nil
}

// resultsEnd is the results stream's last sequence: where a source that
// reports only what is accepted from now on starts.
func resultsEnd(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	stream, err := js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		return 0, err
	}
	return stream.CachedInfo().State.LastSeq, nil
}
