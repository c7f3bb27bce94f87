package kakao

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Delivery reports come from result polling (API reference: 알림톡 발송
// 결과 요청/완료 (Polling)): GET /v2/info/message/results hands out up to
// 1,000 results with a report_group_no, and hands the same out again until
// PUT /v2/info/message/results/complete/{report_group_no} completes them.
// It is a queue with one consumer: with reports on, talkrelay is that
// consumer, and results of messages it did not send (a cid that does not
// decode) are completed and dropped with the rest of their batch.
// Each result names its message by our cid, "<job id>~<index>" (CID),
// decoded back: correlation costs nothing stored.

// Result polling paths.
const (
	ResultsPath  = "/v2/info/message/results"
	CompletePath = "/v2/info/message/results/complete/"
	// ResultsBatch is the most results one poll hands out.
	ResultsBatch = 1000
)

var _ providers.QueueReporter = (*Client)(nil)

// ReportKinds implements providers.QueueReporter: the polling API is
// documented for AlimTalk (and its SMS/LMS fallback).
func (c *Client) ReportKinds() []job.Kind { return []job.Kind{job.AlimTalk} }

// NextReports implements providers.QueueReporter.
func (c *Client) NextReports(ctx context.Context) (*providers.ReportBatch, error) {
	_, data, err := c.query(ctx, http.MethodGet, ResultsPath, nil, false)
	if err != nil {
		return nil, fmt.Errorf("%s: results: %w", Name, err)
	}
	group, entries, err := parseResults(data)
	if err != nil {
		return nil, fmt.Errorf("%s: results: %w", Name, err)
	}
	b := &providers.ReportBatch{Group: group, Listed: len(entries), Full: len(entries) >= ResultsBatch}
	for i := range entries {
		rep, ok := entries[i].report()
		if !ok {
			b.Skipped++
			continue
		}
		b.Reports = append(b.Reports, rep)
	}
	return b, nil
}

// CompleteReports implements providers.QueueReporter. The completion call
// answers HTTP 200 whatever happened: its body's code says (200: done).
func (c *Client) CompleteReports(ctx context.Context, group string) error {
	_, data, err := c.query(ctx, http.MethodPut, CompletePath+url.PathEscape(group), nil, false)
	if err != nil {
		return fmt.Errorf("%s: complete results %s: %w", Name, group, err)
	}
	var ans struct {
		Code       json.RawMessage `json:"code"`
		CodeDetail json.RawMessage `json:"code_detail"`
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return fmt.Errorf("%s: complete results %s: unreadable answer: %w", Name, group, err)
	}
	if code := answerCode(ans.Code, nil); code != "200" {
		return &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable, Code: code,
			Message: fmt.Sprintf("complete results %s answered %s: %s", group, quoteOrNone(code), detailText(ans.CodeDetail))}
	}
	return nil
}

// resultEntry is one polled result.
type resultEntry struct {
	record
	MessageType string // AT, FT...; SM or LM for an SMS/LMS (a fallback)
	Ended       string // ended_yn
	EndedDate   string
}

// parseResults reads a results answer: a code other than 200, or an entry
// that cannot be read, is an error (the batch is not completed, and comes
// again). A batch with results needs its report_group_no.
func parseResults(data []byte) (group string, entries []resultEntry, err error) {
	var ans struct {
		Code          json.RawMessage   `json:"code"`
		CodeDetail    json.RawMessage   `json:"code_detail"`
		ReportGroupNo json.RawMessage   `json:"report_group_no"`
		Results       []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return "", nil, lookupParseError("unreadable results answer", err)
	}
	if code := answerCode(ans.Code, nil); code != "200" {
		return "", nil, &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			Code: code, Message: "results answered " + quoteOrNone(code) + ": " + detailText(ans.CodeDetail)}
	}
	group = jsonString(ans.ReportGroupNo)
	if len(ans.Results) > 0 && group == "" {
		return "", nil, lookupParseError(fmt.Sprintf("%d results without a report_group_no", len(ans.Results)), nil)
	}
	for i, raw := range ans.Results {
		var w struct {
			wireRecord
			MessageType json.RawMessage `json:"message_type"`
			EndedYN     json.RawMessage `json:"ended_yn"`
			EndedDate   json.RawMessage `json:"ended_date"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			return "", nil, lookupParseError(fmt.Sprintf("results[%d] unreadable", i), err)
		}
		r, err := w.record()
		if err != nil {
			return "", nil, lookupParseError(fmt.Sprintf("results[%d]", i), err)
		}
		entries = append(entries, resultEntry{record: r, MessageType: jsonString(w.MessageType),
			Ended: jsonString(w.EndedYN), EndedDate: jsonString(w.EndedDate)})
	}
	return group, entries, nil
}

// smsOK are the sms_status_code values read as a fallback that went: the
// API reference leaves the SMS codes undocumented; "-100" (its example)
// means no SMS was involved.
var smsOK = []string{"0", "00", "0000", "API_200"}

// noSMS is sms_status_code when no fallback was involved.
const noSMS = "-100"

// report is the terminal report of a polled result, and false when it is
// not terminal (ended_yn not Y, or status API_100) or not a message
// talkrelay sent (its cid does not decode):
//   - message_type SM or LM (the fallback's own result): fallback_sent on
//     API_200, fallback_failed otherwise, type SMS or LMS;
//   - API_200: delivered;
//   - another status with an sms_status_code other than -100: the
//     fallback's, fallback_sent when it reads as success, else
//     fallback_failed (type SMS or LMS by sms_type, which a detail has);
//   - another status: failed.
func (e *resultEntry) report() (providers.Report, bool) {
	jobID, index, ok := ParseCID(e.CID)
	if !ok || !strings.EqualFold(e.Ended, "Y") {
		return providers.Report{}, false
	}
	return e.reportOf(jobID, index)
}

// fallbackTypes are the report's fallback types by Kakao's message type of
// an SMS/LMS (message_type, or sms_type in a detail).
var fallbackTypes = map[string]string{"SM": "SMS", "LM": "LMS"}

// reportOf is report for the message jobID/index, whose record e is: false
// when its status is not terminal ("" or API_100).
func (e *resultEntry) reportOf(jobID string, index int) (providers.Report, bool) {
	status := strings.TrimPrefix(e.Status, "API_")
	if status == "" || status == "100" {
		return providers.Report{}, false
	}
	rep := providers.Report{JobID: jobID, Index: index, Code: e.Status, CodeName: statusInfo(e.Status).Name,
		Message: e.outcome().Message, MessageID: e.UID, RequestID: e.CID}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", e.EndedDate, msgcheck.KST); err == nil {
		rep.At = t
	}
	switch {
	case e.MessageType == "SM" || e.MessageType == "LM":
		rep.FallbackType, rep.FallbackCode = fallbackTypes[e.MessageType], e.Status
		rep.State = providers.ReportFallbackFailed
		if status == "200" {
			rep.State = providers.ReportFallbackSent
		}
	case status == "200":
		rep.State = providers.ReportDelivered
	case e.SMSStatus != "" && e.SMSStatus != noSMS:
		rep.FallbackType, rep.FallbackCode = fallbackTypes[e.SMSType], e.SMSStatus
		rep.State = providers.ReportFallbackFailed
		if slices.Contains(smsOK, e.SMSStatus) {
			rep.State = providers.ReportFallbackSent
		}
	default:
		rep.State = providers.ReportFailed
	}
	return rep, true
}
