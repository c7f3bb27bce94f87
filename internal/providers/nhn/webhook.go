package nhn

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// Pushed reports come from NHN's webhook (KakaoTalk Bizmessage Webhook
// API guide): a POST to the URL set in the console's webhook settings,
// header X-Toast-Webhook-Signature carrying the signature entered there
// (the value itself, not a digest of the body), body {hooksId,
// webhookConfigId, productName, appKey, event, hooks}. For event
// MESSAGE_RESULT_UPDATE each hook is one recipient's result code update:
// requestId, recipientSeq, recipientNo, resultCode, receiveDate,
// senderGroupingKey, recipientGroupingKey, kakaoMessageType
// (ALIMTALK_*, FRIENDTALK_*), hookId. It is correlated by the
// recipientGroupingKey, as polling is (updateReport).
//
// A hook carries no message or resend status: a failure code may still be
// followed by the SMS/LMS fallback, and reporting it as failed would
// store the wrong final state. So a hook reports deliveries only; every
// other update is left to polling, which reads the resend status.

var _ providers.HookReporter = (*Client)(nil)

// HookSignatureHeader is the header of NHN's webhook signature.
const HookSignatureHeader = "X-Toast-Webhook-Signature"

// ResultUpdateEvent is the webhook event of result code updates.
const ResultUpdateEvent = "MESSAGE_RESULT_UPDATE"

// HookSigned implements providers.HookReporter.
func (c *Client) HookSigned(h http.Header, signature string) bool {
	got := h.Values(HookSignatureHeader)
	return signature != "" && len(got) == 1 && subtle.ConstantTimeCompare([]byte(got[0]), []byte(signature)) == 1
}

// ReportHook implements providers.HookReporter.
func (c *Client) ReportHook(body []byte) (*providers.HookReports, error) {
	return parseResultHook(body, c.appKey)
}

// resultHook is the webhook body.
type resultHook struct {
	AppKey string      `json:"appKey"`
	Event  string      `json:"event"`
	Hooks  []hookEntry `json:"hooks"`
}

// hookEntry is one hook of MESSAGE_RESULT_UPDATE.
type hookEntry struct {
	KakaoMessageType     string  `json:"kakaoMessageType"`
	RequestID            string  `json:"requestId"`
	RecipientSeq         hookSeq `json:"recipientSeq"`
	ReceiveDate          string  `json:"receiveDate"`
	ResultCode           code    `json:"resultCode"`
	RecipientGroupingKey string  `json:"recipientGroupingKey"`
}

// hookSeq is recipientSeq, documented as an Integer but shown quoted in
// the guide's example: both are read.
type hookSeq int

func (s *hookSeq) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	b = bytes.Trim(b, `"`)
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("recipientSeq %q: not an integer", b)
	}
	*s = hookSeq(n)
	return nil
}

var errNotHook = errors.New("nhn: webhook body without event")

// parseResultHook reads a webhook body of the account with appKey; see
// the comment at the top.
func parseResultHook(body []byte, appKey string) (*providers.HookReports, error) {
	var h resultHook
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, fmt.Errorf("nhn: webhook body: %w", err)
	}
	if h.Event == "" {
		return nil, errNotHook
	}
	out := &providers.HookReports{}
	if h.Event != ResultUpdateEvent {
		out.Ignored = true
		return out, nil
	}
	if h.AppKey != appKey {
		out.Foreign = len(h.Hooks)
		return out, nil
	}
	for i := range h.Hooks {
		e := &h.Hooks[i]
		rep, ok := updateReport(&listMessage{RequestID: e.RequestID, RecipientSeq: int(e.RecipientSeq), ReceiveDate: e.ReceiveDate,
			ResultCode: e.ResultCode, RecipientGroupingKey: e.RecipientGroupingKey})
		switch {
		case !ok && !isOurs(e.RecipientGroupingKey):
			out.Foreign++
		case !ok || rep.State != providers.ReportDelivered:
			out.Pending++
		default:
			out.Reports = append(out.Reports, providers.HookReport{Kind: hookKind(e.KakaoMessageType), Report: rep})
		}
	}
	return out, nil
}

// isOurs says a recipientGroupingKey is one talkrelay made and can decode.
func isOurs(key string) bool {
	_, _, ok := ParseRecipientGroupingKey(key)
	return ok
}

// hookKind is the job kind of a kakaoMessageType.
func hookKind(t string) job.Kind {
	switch {
	case strings.HasPrefix(t, "ALIMTALK"):
		return job.AlimTalk
	case strings.HasPrefix(t, "FRIENDTALK"):
		return job.FriendTalk
	}
	return ""
}
