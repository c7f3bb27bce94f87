package kakao

import (
	"encoding/json"
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// codeInfo is one row of the classification of the answer's code.
type codeInfo struct {
	Name   string // the API reference's description of the code, in English
	Class  providers.Class
	Reason result.Reason // empty: the class's default
}

// Codes classifies the send answer's code, the only field that decides an
// outcome (result.detail_code is informational: both NRM0000 and NRM00000
// appear for success).
//
//   - 100 processing: the normal answer under a polling contract. Kakao has
//     the message and the result comes later (GET /v2/info/message/results);
//     resending would send it twice. Unknown, never resent blindly; when
//     the account's results are polled, an AlimTalk's 100 is accepted
//     instead and its outcome comes as a report (inprogress.go).
//   - 500 internal system error: it may come after Kakao took the message
//     (Kakao Enterprise's current documents: "retry with care: it may follow acceptance"), so a
//     resend may duplicate it. Unknown: reconcile by cid (the result and
//     search APIs) before any resend.
//   - 520 failed but resendable: Retryable, with backoff.
//   - 400 permission error, 410 invalid input, 420 file/image error, 510
//     send failed: Permanent.
var Codes = map[string]codeInfo{
	"100": {Name: "processing", Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown},
	"200": {Name: "success", Class: providers.Accepted},
	"400": {Name: "permission error", Class: providers.Permanent, Reason: result.ReasonAuth},
	"410": {Name: "invalid input", Class: providers.Permanent},
	"420": {Name: "file or image error", Class: providers.Permanent},
	"500": {Name: "internal system error", Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown},
	"510": {Name: "send failed", Class: providers.Permanent},
	"520": {Name: "failed, resendable", Class: providers.Retryable},
}

// unknownCode classifies a code missing from Codes: Kakao may have taken the
// message, so it is not resent blindly.
var unknownCode = codeInfo{Name: "undocumented code", Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown}

// sendAnswer is the send endpoint's JSON answer. Every field is read
// leniently (a string or a number) so that only the code decides: a detail
// of an unexpected type does not turn an acceptance into an unknown outcome.
type sendAnswer struct {
	Code   json.RawMessage `json:"code"`
	UID    json.RawMessage `json:"uid"`
	CID    json.RawMessage `json:"cid"`
	Result json.RawMessage `json:"result"`
}

// detail returns result.detail_code and result.detail_message as one text.
func (a *sendAnswer) detail() string {
	var r struct {
		Code    json.RawMessage `json:"detail_code"`
		Message json.RawMessage `json:"detail_message"`
	}
	if json.Unmarshal(a.Result, &r) != nil {
		return ""
	}
	code, msg := jsonString(r.Code), jsonString(r.Message)
	if code != "" && msg != "" {
		return code + ": " + msg
	}
	return code + msg
}

// ParseResponse turns the body of a 2xx send answer into the message's
// outcome. A body that is empty, not JSON or without a code is an error of
// class Unknown: the request reached Kakao and it may have taken the message.
func ParseResponse(body []byte) (providers.Outcome, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return providers.Outcome{}, &providers.Error{Provider: Name, Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
			Message: "empty answer"}
	}
	var ans sendAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return providers.Outcome{}, &providers.Error{Provider: Name, Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
			Message: "unreadable answer", Err: err}
	}
	code := strings.TrimSpace(jsonString(ans.Code))
	if code == "" {
		return providers.Outcome{}, &providers.Error{Provider: Name, Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
			Message: "answer without code"}
	}
	info, ok := Codes[code]
	if !ok {
		info = unknownCode
	}
	o := providers.Outcome{
		Class:     info.Class,
		Reason:    info.Reason,
		Code:      code,
		CodeName:  info.Name,
		Message:   ans.detail(),
		RequestID: jsonString(ans.CID),
		MessageID: jsonString(ans.UID),
	}
	return o, nil
}
