package nhn

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// sendResponse is NHN's answer to a send request (AlimTalk and FriendTalk alike).
type sendResponse struct {
	Header  *responseHeader `json:"header"`
	Message *responseBody   `json:"message"`
}

type responseHeader struct {
	ResultCode    int    `json:"resultCode"`
	ResultMessage string `json:"resultMessage"`
	IsSuccessful  bool   `json:"isSuccessful"`
}

type responseBody struct {
	RequestID   string       `json:"requestId"`
	SendResults []sendResult `json:"sendResults"`
}

type sendResult struct {
	RecipientSeq         int    `json:"recipientSeq"`
	RecipientNo          string `json:"recipientNo"`
	ResultCode           int    `json:"resultCode"`
	ResultMessage        string `json:"resultMessage"`
	RecipientGroupingKey string `json:"recipientGroupingKey"`
}

var (
	errNoHeader    = errors.New("answer has no header")
	errEmptyAnswer = errors.New("empty answer")
)

// parseResponse decodes an answer (to n recipients) as encoding/json
// would, faster: scanResponse reads the answers NHN gives,
// providers.UnmarshalAnswer any other body
// (FuzzResponseAgreesWithEncodingJSON); one without a header is no answer.
func parseResponse(body []byte, n int) (*sendResponse, error) {
	if len(body) == 0 {
		return nil, errEmptyAnswer
	}
	r, ok := scanResponse(body, n)
	if !ok {
		r = new(sendResponse)
		if err := providers.UnmarshalAnswer(body, r); err != nil {
			return nil, fmt.Errorf("decode answer: %w", err)
		}
	}
	if r.Header == nil {
		return nil, errNoHeader
	}
	return r, nil
}

// headerError is the whole-request error of a failed header.
func headerError(r *sendResponse) *providers.Error {
	o := apiOutcome(r.Header.ResultCode, r.Header.ResultMessage)
	if o.Class == providers.Accepted {
		// isSuccessful false with the success code (or no code at all):
		// the answer contradicts itself, so nothing is known.
		o.Class, o.Reason, o.CodeName = providers.Unknown, result.ReasonOutcomeUnknown, "failed header with the success code"
	}
	return &providers.Error{Provider: Name, Class: o.Class, Reason: o.EffectiveReason(), Code: o.Code,
		CodeName: o.CodeName, Message: o.Message}
}

// everyRecipientFailed are header codes that only summarise per-recipient
// failures; the sendResults, when they map, say more.
func everyRecipientFailed(code int) bool { return code == -1031 || code == -2999 }

// outcomes turns a decoded answer into one outcome per sent recipient.
//
// A failed header decides for the whole request. Otherwise every
// sendResults entry is read, successful header or not, since partial
// failures come inside a successful one. An entry is matched to the
// message it answers by recipientGroupingKey (unique in the batch: job id
// and index), or, when NHN leaves that out, by recipientSeq taken as the
// 1-based position in recipientList; its recipientNo must then be the
// number sent. A message no entry (or more than one) answers consistently
// is Unknown: NHN may or may not have taken it.
func outcomes(r *sendResponse, sent []sentRecipient) ([]providers.Outcome, error) {
	var results []sendResult
	requestID := ""
	if r.Message != nil {
		results, requestID = r.Message.SendResults, r.Message.RequestID
	}
	if !r.Header.IsSuccessful && !(everyRecipientFailed(r.Header.ResultCode) && len(results) == len(sent)) {
		return nil, headerError(r)
	}
	if len(results) == 0 {
		return nil, &providers.Error{Provider: Name, Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
			Code: strconv.Itoa(r.Header.ResultCode), Message: "successful answer without sendResults"}
	}

	var byKey map[string]int        // built only for an answer out of order
	match := make([]int, len(sent)) // entries matched to each message
	entry := make([]*sendResult, len(sent))
	for k := range results {
		e := &results[k]
		i, ok := -1, false
		switch {
		case e.RecipientGroupingKey == "":
			if e.RecipientSeq >= 1 && e.RecipientSeq <= len(sent) {
				i, ok = e.RecipientSeq-1, true
			}
		case k < len(sent) && sent[k].groupingKey == e.RecipientGroupingKey:
			// NHN answers in the order sent: the key of the same position.
			i, ok = k, true
		default:
			if byKey == nil {
				byKey = make(map[string]int, len(sent))
				for i, s := range sent {
					byKey[s.groupingKey] = i
				}
			}
			i, ok = byKey[e.RecipientGroupingKey]
		}
		if !ok {
			continue // answers nothing we sent
		}
		match[i]++
		entry[i] = e
	}

	out := make([]providers.Outcome, len(sent))
	// The message ids (recipientSeq) are written into one string, cut
	// once all are known: one allocation, not one per recipient.
	ids, idEnd := make([]byte, 0, 4*len(sent)), make([]int, len(sent))
	for i := range sent {
		e := entry[i]
		switch {
		case match[i] != 1:
			out[i] = unmatched(requestID, fmt.Sprintf("NHN answered this recipient %d times", match[i]))
		case e.RecipientNo != "" && digits(e.RecipientNo) != sent[i].no:
			out[i] = unmatched(requestID, "NHN's answer for this position names another recipient number")
		default:
			o := apiOutcome(e.ResultCode, e.ResultMessage)
			o.RequestID = requestID
			if e.RecipientSeq > 0 {
				ids = strconv.AppendInt(ids, int64(e.RecipientSeq), 10)
			}
			out[i] = o
		}
		idEnd[i] = len(ids)
	}
	idString, start := string(ids), 0
	for i, end := range idEnd {
		out[i].MessageID, start = idString[start:end], end
	}
	return out, nil
}

func unmatched(requestID, why string) providers.Outcome {
	return providers.Outcome{Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown, RequestID: requestID,
		Message: "answer does not map to the request: " + why}
}
