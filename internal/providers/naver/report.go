package naver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// Delivery reports come from the request list asked by requestId
// (GET .../messages?requestId=, API document: メッセージ送信リクエストの照会):
// one request lists every message of a send request (at most 100, one
// page), each with messageStatusName success / processing / fail, its
// messageStatusCode and the failover block of its SMS fallback. The
// completion-window listing (completeStartTime + completeEndTime) needs
// plusFriendId, which the accepted results do not keep, so it is not used.
// The per-message query (GET .../messages/{messageId}, メッセージ送信結果の照会)
// is asked only for a message whose request id is not known: its outcome
// came from a lookup by time window, which lists no request ids.

var _ providers.RequestReporter = (*Client)(nil)

// ReportKinds implements providers.RequestReporter: the SENS AlimTalk API
// sends AlimTalk only.
func (c *Client) ReportKinds() []job.Kind { return []job.Kind{job.AlimTalk} }

// RequestReports implements providers.RequestReporter: one request query
// (a request holds at most 100 messages, one page of the default size).
// A request NAVER lists nothing for (its empty 404) has no reports yet.
func (c *Client) RequestReports(ctx context.Context, requestID string) ([]providers.Report, error) {
	recs, _, err := c.fetch(ctx, url.Values{"requestId": {requestID}}, maxPagesPerFetch)
	if err != nil {
		return nil, fmt.Errorf("naver: reports of request %s: %w", requestID, err)
	}
	var out []providers.Report
	for i := range recs {
		if rep, ok := c.deliveryReport(&recs[i]); ok {
			rep.RequestID = requestID
			out = append(out, rep)
		}
	}
	return out, nil
}

// failoverStatus is a listed message's failover block: its SMS fallback.
type failoverStatus struct {
	RequestStatusCode string `json:"requestStatusCode"`
	RequestStatusDesc string `json:"requestStatusDesc"`
	MessageStatus     string `json:"messageStatus"` // READY, PROCESSING, COMPLETED
	MessageStatusCode string `json:"messageStatusCode"`
	MessageStatusName string `json:"messageStatusName"`
	MessageStatusDesc string `json:"messageStatusDesc"`
}

// failoverOK is the failover request and receipt code of success (the API
// document's failover request status table: 0 成功; its receipt codes are
// SENS SMS's, where 0 is success too).
const failoverOK = "0"

// completeTimeLayout is completeTime's layout in the list's answers.
const completeTimeLayout = "2006-01-02T15:04:05"

// deliveryReport is the terminal report of a listed message, and false
// while it is not terminal:
//   - messageStatusName success: delivered;
//   - fail without useSmsFailover, or with a B-prefixed relay code (for
//     which NAVER sends no fallback): failed, with messageStatusCode;
//   - fail with a fallback: fallback_failed when its request failed
//     (an E-code) or its receipt code is not 0, fallback_sent when it
//     COMPLETED with 0; not terminal while the failover block is missing,
//     READY or PROCESSING;
//   - processing, a message NAVER did not take (requestStatusCode not
//     A000) or anything else: not terminal.
func (c *Client) deliveryReport(m *queryMessage) (providers.Report, bool) {
	rep := providers.Report{MessageID: m.MessageID, Code: m.MessageStatusCode, CodeName: m.MessageStatusName,
		Message: m.MessageStatusDesc}
	if t, err := time.ParseInLocation(completeTimeLayout, m.CompleteTime, c.queryLoc); err == nil {
		rep.At = t
	}
	if m.MessageID == "" || m.RequestStatusCode != "A000" {
		return rep, false
	}
	switch m.MessageStatusName {
	case "success":
		rep.State = providers.ReportDelivered
		return rep, true
	case "fail":
	default:
		return rep, false
	}
	f := m.Failover
	switch {
	case !m.UseSmsFailover || strings.HasPrefix(m.MessageStatusCode, "B"):
		rep.State = providers.ReportFailed
	case f == nil:
		return rep, false
	case f.RequestStatusCode != "" && f.RequestStatusCode != failoverOK:
		rep.State, rep.FallbackCode = providers.ReportFallbackFailed, f.RequestStatusCode
	case f.MessageStatus != "COMPLETED":
		return rep, false
	case f.MessageStatusCode == failoverOK:
		rep.State, rep.FallbackCode = providers.ReportFallbackSent, f.MessageStatusCode
	default:
		rep.State, rep.FallbackCode = providers.ReportFallbackFailed, f.MessageStatusCode
	}
	return rep, true
}

// MessageReport implements providers.RequestReporter with the per-message
// query. A message NAVER answers the empty 404 for has no report yet.
func (c *Client) MessageReport(ctx context.Context, messageID string) (providers.Report, bool, error) {
	data, found, err := c.signedGet(ctx, c.sendURL+"/"+url.PathEscape(messageID))
	if err != nil {
		return providers.Report{}, false, fmt.Errorf("naver: report of message %s: %w", messageID, err)
	}
	if !found {
		return providers.Report{}, false, nil
	}
	var m struct {
		queryMessage
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return providers.Report{}, false, fmt.Errorf("naver: report of message %s: unreadable answer: %w", messageID, err)
	}
	if m.MessageID != messageID {
		return providers.Report{}, false, fmt.Errorf("naver: report of message %s: answer is of message %q", messageID, m.MessageID)
	}
	rep, ok := c.deliveryReport(&m.queryMessage)
	rep.RequestID = m.RequestID
	return rep, ok, nil
}
