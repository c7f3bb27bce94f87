package kakao

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// Under Kakao's polling contract a send answers 100 (in progress): Kakao
// has the message, and hands its outcome out later through result polling
// (report.go). When the account's results are polled (reports.enabled),
// such a message needs no lookup: it is accepted at once (inProgress) and
// its report comes from the polled results; so is a message a lookup
// finds in progress (API_100: after a 500 or a timeout). A message the polling has
// still not returned at the report horizon is read once from the detail
// API by its uid (LookupReports). Without polling, 100 stays Unknown and
// is looked up by its uid (Resolve).

// InProgressMessage is the message of a result accepted on a 100.
const InProgressMessage = "in progress: Kakao reports the outcome"

// inProgress makes o, what Kakao says of m, an acceptance when it is in
// progress (a send's 100, a lookup's API_100) and the polling reports m's
// kind (AlimTalk: FriendTalk and Brand Message in progress are still
// looked up).
func (c *Client) inProgress(m *providers.Message, o *providers.Outcome) {
	if !c.reportsPolled || !isInProgress(o.Code) || o.Class != providers.Unknown || !slices.Contains(c.ReportKinds(), m.Job.Kind) {
		return
	}
	o.Class, o.Reason = providers.Accepted, ""
	if o.Message == "" {
		o.Message = InProgressMessage
	} else {
		o.Message = InProgressMessage + " (" + o.Message + ")"
	}
}

// isInProgress says whether code, of a send answer or a message's
// status, is 100 (in progress).
func isInProgress(code string) bool { return strings.TrimPrefix(code, "API_") == "100" }

var _ providers.ReportLookup = (*Client)(nil)

// LooksUp implements providers.ReportLookup: a message accepted in
// progress, with its uid.
func (c *Client) LooksUp(m *providers.AcceptedMessage) bool {
	return isInProgress(m.Code) && m.MessageID != ""
}

// LookupReports implements providers.ReportLookup: a message accepted in
// progress (code 100 or API_100, with its uid) is read from the detail API, one
// request each, and reported as its polled result would be (resultEntry:
// API_200 delivered, a fallback by sms_status_code and sms_type, else
// failed). A detail still processing (API_100), a uid the API does not
// know (HTTP 404), a detail without a result or of another cid gives nil;
// so does any other message, without a request: the polling reports it.
func (c *Client) LookupReports(ctx context.Context, msgs []providers.AcceptedMessage) ([]*providers.Report, error) {
	out := make([]*providers.Report, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if !c.LooksUp(m) {
			continue
		}
		r, found, err := c.detail(ctx, m.MessageID)
		if err != nil {
			return nil, fmt.Errorf("%s: look up uid %s: %w", Name, m.MessageID, err)
		}
		if !found || (r.CID != "" && r.CID != CID(m.JobID, m.Index) && r.CID != HashedCID(m.JobID, m.Index)) {
			continue
		}
		if r.UID == "" {
			r.UID = m.MessageID
		}
		if r.CID == "" {
			r.CID = m.RequestID
		}
		e := resultEntry{record: r}
		if rep, ok := e.reportOf(m.JobID, m.Index); ok {
			out[i] = &rep
		}
	}
	return out, nil
}
