package nhn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// MaxListPageSize is the largest pageSize NHN's list APIs take (FriendTalk v1.5 API guide).
const MaxListPageSize = 1000

// maxListPages bounds the pages one list query reads: one recipient
// grouping key has one record per attempt, so a listing longer than this
// is not what it seems, and no answer is better than a wrong one.
const maxListPages = 20

// maxListResponse bounds what is read of one list page: 1000 messages
// with up to 1300 characters of content each.
const maxListResponse = 16 << 20

// listResponse is NHN's answer to a message list query (the FriendTalk v1.5 API guide,
// 送信リスト照会): header and messageSearchResultResponse. pageNum and
// pageSize are not in the guide's FriendTalk shape (NHN's AlimTalk lists
// have them); they are read when present and never relied on.
type listResponse struct {
	Header *responseHeader `json:"header"`
	Result *listResult     `json:"messageSearchResultResponse"`
}

type listResult struct {
	Messages   []listMessage `json:"messages"`
	PageNum    int           `json:"pageNum"`
	PageSize   int           `json:"pageSize"`
	TotalCount int           `json:"totalCount"`
}

// listMessage is one listed recipient of one request: the fields Resolve
// reads of the FriendTalk v1.5 API guide's list entry.
type listMessage struct {
	RequestID            string `json:"requestId"`
	RecipientSeq         int    `json:"recipientSeq"`
	RecipientNo          string `json:"recipientNo"`
	RequestDate          string `json:"requestDate"`
	CreateDate           string `json:"createDate"`
	ReceiveDate          string `json:"receiveDate"`
	MessageStatus        string `json:"messageStatus"`
	ResendStatus         string `json:"resendStatus"`
	ResultCode           code   `json:"resultCode"`
	ResultCodeName       string `json:"resultCodeName"`
	SenderGroupingKey    string `json:"senderGroupingKey"`
	RecipientGroupingKey string `json:"recipientGroupingKey"`
}

// code is a result code NHN documents as a string ("1000", "MRC01"); a
// JSON number is read as its text too, since the send API's codes are
// integers and the two are easily mixed.
type code string

func (c *code) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*c = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = code(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("resultCode %s: neither a string nor a number", b)
	}
	*c = code(n.String())
	return nil
}

// parseList decodes one list page. An answer that is not a successful
// header with a messageSearchResultResponse is an error: a listing we
// cannot read proves nothing, least of all that a message is absent.
func parseList(body []byte) (*listResult, error) {
	if len(body) == 0 {
		return nil, errors.New("empty answer")
	}
	var r listResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	switch {
	case r.Header == nil:
		return nil, errNoHeader
	case !r.Header.IsSuccessful:
		o := apiOutcome(r.Header.ResultCode, r.Header.ResultMessage)
		return nil, &providers.Error{Provider: Name, Class: o.Class, Reason: o.EffectiveReason(), Code: o.Code,
			CodeName: o.CodeName, Message: o.Message}
	case r.Result == nil:
		return nil, errors.New("successful answer without messageSearchResultResponse")
	case r.Result.TotalCount < 0:
		return nil, fmt.Errorf("totalCount %d", r.Result.TotalCount)
	}
	return r.Result, nil
}

// listQuery is one list query: the messages of one recipient grouping key
// requested within [start, end] (yyyy-MM-dd HH:mm, KST) through one API.
type listQuery struct {
	api        sendAPI
	key        string
	start, end string
}

// list reads every page of q.
func (c *Client) list(ctx context.Context, q listQuery) ([]listMessage, error) {
	var all []listMessage
	for page := 1; ; page++ {
		if page > maxListPages {
			return nil, fmt.Errorf("more than %d pages of %d messages", maxListPages, c.pageSize)
		}
		r, err := c.listPage(ctx, q, page)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", page, err)
		}
		all = append(all, r.Messages...)
		if len(all) >= r.TotalCount {
			return all, nil
		}
		if len(r.Messages) == 0 {
			// Fewer messages than NHN counts: the listing moved under us
			// or is cut short. Absence cannot be proven from it.
			return nil, fmt.Errorf("page %d is empty after %d of %d messages", page, len(all), r.TotalCount)
		}
	}
}

// listPage makes one list request.
func (c *Client) listPage(ctx context.Context, q listQuery, page int) (*listResult, error) {
	v := url.Values{}
	v.Set("startRequestDate", q.start)
	v.Set("endRequestDate", q.end)
	v.Set("recipientGroupingKey", q.key)
	v.Set("pageNum", strconv.Itoa(page))
	v.Set("pageSize", strconv.Itoa(c.pageSize))
	return c.getList(ctx, q.api, q.api.listURL(), v)
}

// getList makes a GET of a listing (a message list or result updates)
// of api at u with query v and reads its page.
func (c *Client) getList(ctx context.Context, api sendAPI, u string, v url.Values) (*listResult, error) {
	// Spaces as %20, as in the guide's example, not Encode's '+' (a '+' of
	// a value is %2B either way).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?"+strings.ReplaceAll(v.Encode(), "+", "%20"), nil)
	if err != nil {
		return nil, err
	}
	// The guide's list call carries the JSON Content-Type too.
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Secret-Key", c.secretKey)
	api.header(req.Header)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListResponse+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(body) > maxListResponse {
		return nil, fmt.Errorf("answer over %d bytes", maxListResponse)
	}
	r, perr := parseList(body)
	if resp.StatusCode/100 != 2 {
		e := &providers.Error{Provider: Name, Class: providers.Retryable, HTTPStatus: resp.StatusCode,
			Message: http.StatusText(resp.StatusCode)}
		var pe *providers.Error
		if errors.As(perr, &pe) {
			e.Code, e.CodeName, e.Message = pe.Code, pe.CodeName, pe.Message
		}
		return nil, e
	}
	return r, perr
}

// statusCancel is the messageStatus of a cancelled reservation (the
// FriendTalk v1.5 API guide's result updates: CANCEL -> キャンセル).
const statusCancel = "CANCEL"

// Delivery states of a listed message, as Resolve reads them.
const (
	// Resend statuses (FriendTalk v1.5 API guide): RSC02 fallback due, RSC03 in progress,
	// RSC04 succeeded. A message in any of them has been, or is being,
	// sent by SMS/LMS: sending it again would repeat that.
	resendDue, resendSending, resendDone = "RSC02", "RSC03", "RSC04"
)

// recordOutcome is what one listed message says of its recipient. Being
// listed at all means NHN took the request; what matters is whether the
// message went out (or will), so that sending again would repeat it:
//   - resultCode "1000", "MRC01" or "3005" (sent, receipt unconfirmed):
//     Accepted;
//   - messageStatus CANCEL: a reservation cancelled (DELETE
//     …/messages/{requestId}) before it was sent; it never will be, so it
//     is not sent again either: Permanent with reason canceled, which the
//     worker's result reports as canceled;
//   - no resultCode yet: Accepted (taken, delivery pending), unless
//     messageStatus is FAILED (Permanent: failed for a reason NHN did not
//     give);
//   - a failure code with an SMS/LMS fallback due, running or done:
//     Accepted, the fallback carries the message;
//   - any other failure code: its class (DeliveryOutcome; an integer
//     code through the API table; "MRC02" Permanent).
func recordOutcome(m *listMessage) providers.Outcome {
	o := providers.Outcome{Code: string(m.ResultCode), RequestID: m.RequestID, Message: m.ResultCodeName}
	if m.RecipientSeq > 0 {
		o.MessageID = strconv.Itoa(m.RecipientSeq)
	}
	status := strings.ToUpper(m.MessageStatus)
	switch c := string(m.ResultCode); {
	case status == statusCancel:
		o.Class, o.Reason, o.Code, o.CodeName = providers.Permanent, result.ReasonCanceled, statusCancel, "listed: cancelled before it was sent"
	case c == "1000" || c == "MRC01" || c == "3005":
		o.Class, o.CodeName = providers.Accepted, "listed: sent"
		if c != "MRC01" {
			o.CodeName = "listed: " + DeliveryOutcome(c).CodeName
		}
	case c == "" && status == "FAILED":
		o.Class, o.CodeName = providers.Permanent, "listed: failed without a result code"
	case c == "":
		o.Class, o.CodeName = providers.Accepted, "listed: taken, delivery pending"
		if status != "" {
			o.CodeName += " (" + m.MessageStatus + ")"
		}
	case m.ResendStatus == resendDue || m.ResendStatus == resendSending || m.ResendStatus == resendDone:
		o.Class, o.CodeName = providers.Accepted, "listed: KakaoTalk failed, SMS/LMS fallback "+m.ResendStatus
	default:
		f := failureOutcome(c)
		o.Class, o.Reason, o.CodeName = f.Class, f.Reason, "listed: "+f.CodeName
	}
	return o
}

// failureOutcome classifies a listed failure code.
func failureOutcome(c string) providers.Outcome {
	if c == "MRC02" {
		return providers.Outcome{Class: providers.Permanent, Code: c, CodeName: "send failed"}
	}
	if n, err := strconv.Atoi(c); err == nil && strings.HasPrefix(c, "-") {
		return apiOutcome(n, "")
	}
	return DeliveryOutcome(c)
}

// listedIn reports whether the listing decides q, and how. It picks, of
// the messages listed under q's grouping key:
//   - one that says the message was sent (Accepted), preferring the
//     request q.Last names: any attempt that went out is enough;
//   - else, among failed ones, the request q.Last names, or the latest.
//
// Messages listed under another key (NHN ignoring the filter) are not
// q's; messages listed without a key cannot be told apart, so they leave
// q undecided when nothing else is listed.
func listedIn(q *providers.Query, key string, msgs []listMessage) (o providers.Outcome, found, ambiguous bool) {
	var ours []*listMessage
	for i := range msgs {
		switch msgs[i].RecipientGroupingKey {
		case key:
			ours = append(ours, &msgs[i])
		case "":
			ambiguous = true
		}
	}
	if len(ours) == 0 {
		return providers.Outcome{}, false, ambiguous
	}
	var accepted, mineFailed, latestFailed *providers.Outcome
	latest := ""
	for _, m := range ours {
		r := recordOutcome(m)
		mine := q.Last.RequestID != "" && m.RequestID == q.Last.RequestID
		if r.Class == providers.Accepted {
			if accepted == nil || mine {
				accepted = &r
			}
			continue
		}
		if mine {
			mineFailed = &r
		}
		// The layouts sort as text: the latest request sorts last.
		if at := m.RequestDate + "|" + m.CreateDate + "|" + m.RequestID; latestFailed == nil || at > latest {
			latestFailed, latest = &r, at
		}
	}
	switch {
	case accepted != nil:
		return *accepted, true, false
	case mineFailed != nil:
		return *mineFailed, true, false
	}
	return *latestFailed, true, false
}

// lookupFailed wraps the error of a list query for Resolve's caller.
func lookupFailed(q listQuery, err error) error {
	return fmt.Errorf("nhn: list messages of recipientGroupingKey %q (%s to %s KST): %w", q.key, q.start, q.end, err)
}

// notTakenReason is the reason of a lookup that proved a message was never
// taken: the provider did not take it, and it may be sent again.
const notTakenReason = result.ReasonProviderUnavailable
