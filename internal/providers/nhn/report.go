package nhn

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
)

// Delivery reports come from NHN's result updates (メッセージ結果アップデート照会,
// FriendTalk v1.5 API guide; AlimTalk assumed to mirror it):
// GET …/message-results?startUpdateDate=&endUpdateDate=&pageNum=&pageSize=,
// dates yyyy-MM-dd HH:mm in KST, at most 1000 a page. Each entry carries
// the recipientGroupingKey talkrelay set on the send (RecipientGroupingKey:
// "<job id>/<index>"), which is decoded back: correlation costs nothing
// stored. A job id that did not fit the key (hashed, "h-…") cannot be
// decoded, and its recipients get no report from polling.

var _ providers.WindowReporter = (*Client)(nil)

// reportWindowMax is the widest window one listing spans: an hour of
// updates is at most a few pages for most accounts.
const reportWindowMax = time.Hour

// ReportKinds implements providers.WindowReporter: AlimTalk and FriendTalk
// are listed by their own APIs.
func (c *Client) ReportKinds() []job.Kind { return []job.Kind{job.AlimTalk, job.FriendTalk} }

// ReportLimits implements providers.WindowReporter.
func (c *Client) ReportLimits() (resolution, maxWindow time.Duration, maxPage int) {
	return time.Minute, reportWindowMax, MaxListPageSize
}

// resultsURL is the result-updates API of the API a kind is sent through:
// next to its message list.
func (c *Client) resultsURL(kind job.Kind) (string, error) {
	api, ok := c.apis[kind]
	if !ok {
		return "", fmt.Errorf("nhn: no API for kind %q", kind)
	}
	return strings.TrimSuffix(api.listURL(), "/messages") + "/message-results", nil
}

// ReportPage implements providers.WindowReporter. NHN's dates are whole
// minutes and both ends are taken as inclusive: [from, to) is asked as
// from to to minus a minute.
func (c *Client) ReportPage(ctx context.Context, kind job.Kind, from, to time.Time, page, size int) (*providers.ReportPage, error) {
	if !to.After(from) || !from.Equal(from.Truncate(time.Minute)) || !to.Equal(to.Truncate(time.Minute)) {
		return nil, fmt.Errorf("nhn: report window %s to %s is not whole minutes", from, to)
	}
	u, err := c.resultsURL(kind)
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	v.Set("startUpdateDate", from.In(msgcheck.KST).Format(requestDateLayout))
	v.Set("endUpdateDate", to.Add(-time.Minute).In(msgcheck.KST).Format(requestDateLayout))
	v.Set("pageNum", strconv.Itoa(page))
	v.Set("pageSize", strconv.Itoa(min(size, MaxListPageSize)))
	r, err := c.getList(ctx, c.apis[kind], u, v)
	if err != nil {
		return nil, fmt.Errorf("nhn: result updates %s to %s KST: %w", v.Get("startUpdateDate"), v.Get("endUpdateDate"), err)
	}
	out := &providers.ReportPage{Listed: len(r.Messages), Total: r.TotalCount}
	for i := range r.Messages {
		rep, ok := updateReport(&r.Messages[i])
		if !ok {
			out.Skipped++
			continue
		}
		out.Reports = append(out.Reports, rep)
	}
	return out, nil
}

// updateReport is the terminal report of a result update, and false for
// an update that is not terminal yet or not of a message talkrelay sent:
//   - CANCEL (a reservation cancelled, DELETE …/messages/{requestId}):
//     failed with code CANCEL, marked Canceled: never sent, and never
//     will be; the poller leaves it out when talkrelay cancelled the
//     recipient (its final result canceled), and publishes it when
//     someone else did (NHN's console), so that the accepted recipient
//     still ends with one report;
//   - no result code yet, "3005" (sent, receipt unconfirmed: it may still
//     come within three days), a fallback due or running (RSC02, RSC03):
//     not terminal;
//   - "1000" or "MRC01": delivered;
//   - any other code: fallback_sent after RSC04, fallback_failed after
//     RSC05, else failed.
func updateReport(m *listMessage) (providers.Report, bool) {
	jobID, index, ok := ParseRecipientGroupingKey(m.RecipientGroupingKey)
	if !ok {
		return providers.Report{}, false
	}
	rep := providers.Report{JobID: jobID, Index: index, Code: string(m.ResultCode), CodeName: m.ResultCodeName,
		RequestID: m.RequestID}
	if m.RecipientSeq > 0 {
		rep.MessageID = strconv.Itoa(m.RecipientSeq)
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", m.ReceiveDate, msgcheck.KST); err == nil {
		rep.At = t
	}
	switch c := rep.Code; {
	case strings.EqualFold(m.MessageStatus, statusCancel):
		rep.State, rep.Canceled, rep.Code = providers.ReportFailed, true, statusCancel
		rep.CodeName, rep.Message = "cancelled", "the reservation was cancelled at NHN before it was sent"
	case c == "", c == "3005":
		return providers.Report{}, false
	case c == "1000" || c == "MRC01":
		rep.State = providers.ReportDelivered
	case m.ResendStatus == resendDone:
		rep.State, rep.FallbackCode = providers.ReportFallbackSent, m.ResendStatus
	case m.ResendStatus == resendFailed:
		rep.State, rep.FallbackCode = providers.ReportFallbackFailed, m.ResendStatus
	case m.ResendStatus == resendDue || m.ResendStatus == resendSending:
		return providers.Report{}, false
	default:
		rep.State = providers.ReportFailed
		rep.Message = DeliveryOutcome(c).CodeName
	}
	return rep, true
}

// resendFailed is the resend status of a fallback that failed (RSC05).
const resendFailed = "RSC05"

// ParseRecipientGroupingKey decodes a key RecipientGroupingKey made in its
// plain form, "<job id>/<index>"; ok is false for a hashed key or one
// talkrelay did not make.
func ParseRecipientGroupingKey(key string) (jobID string, index int, ok bool) {
	i := strings.LastIndexByte(key, '/')
	if i <= 0 || strings.HasPrefix(key, "h-") {
		return "", 0, false
	}
	jobID = key[:i]
	index, err := strconv.Atoi(key[i+1:])
	if err != nil || index < 0 || strconv.Itoa(index) != key[i+1:] || RecipientGroupingKey(jobID, index) != key {
		return "", 0, false
	}
	return jobID, index, true
}
