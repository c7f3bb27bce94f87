package naver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// sendResponse is what talkrelay reads of the 202 answer to a send. NAVER
// also echoes every message's countryCode, to and content, and the
// request's requestTime, statusCode and statusName: nothing needs them,
// and leaving them out of the struct spares decoding them (the content
// above all) for every recipient.
type sendResponse struct {
	RequestID string          `json:"requestId"`
	Messages  []messageResult `json:"messages"`
}

type messageResult struct {
	MessageID         string `json:"messageId"`
	RequestStatusCode string `json:"requestStatusCode"`
	RequestStatusName string `json:"requestStatusName"`
	RequestStatusDesc string `json:"requestStatusDesc"`
	UseSmsFailover    bool   `json:"useSmsFailover"`
}

var (
	errEmptyBody     = errors.New("empty body")
	errCountMismatch = errors.New("answer count does not match the request")
)

// parseSendResponse reads a 2xx body (the answer to n messages) as
// encoding/json would, faster: scanSendResponse reads the answers NAVER
// gives, providers.UnmarshalAnswer any other body
// (FuzzSendResponseAgreesWithEncodingJSON).
func parseSendResponse(body []byte, n int) (*sendResponse, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmptyBody
	}
	if r, ok := scanSendResponse(body, n); ok {
		return r, nil
	}
	var r sendResponse
	if err := providers.UnmarshalAnswer(body, &r); err != nil {
		return nil, fmt.Errorf("unreadable body: %w", err)
	}
	return &r, nil
}

// outcomes maps the answer to n sent messages, by position: NAVER answers
// messages in the order they were sent and has no per-message reference of
// ours to match on. Any other count makes every outcome unknown.
func outcomes(r *sendResponse, n int) ([]providers.Outcome, error) {
	if len(r.Messages) != n {
		return nil, fmt.Errorf("%w: %d answers for %d messages", errCountMismatch, len(r.Messages), n)
	}
	out := make([]providers.Outcome, n)
	for i, m := range r.Messages {
		o := providers.Outcome{
			Code:      m.RequestStatusCode,
			Message:   m.RequestStatusDesc,
			RequestID: r.RequestID,
			MessageID: m.MessageID,
		}
		if m.RequestStatusCode == "" {
			// NAVER answered this entry without saying what became of it.
			o.Class, o.Reason = providers.Unknown, result.ReasonOutcomeUnknown
			o.Message = strings.TrimSpace("no requestStatusCode " + m.RequestStatusDesc)
		} else {
			// CodeName stays empty for a code outside the table: NAVER's
			// requestStatusName ("fail") is not the code's name.
			o.Class, o.Reason, o.CodeName = classify(m.RequestStatusCode, m.RequestStatusName, m.UseSmsFailover)
		}
		out[i] = o
	}
	return out, nil
}

// errorBody is every error shape the API answers with:
// the API Gateway's {"error":{"errorCode","message","details"}}, and
// SENS's {status, errors, errorMessage} or {status, error, message}.
type errorBody struct {
	Error        json.RawMessage `json:"error"`
	Status       json.RawMessage `json:"status"`
	Errors       json.RawMessage `json:"errors"`
	ErrorMessage string          `json:"errorMessage"`
	Message      string          `json:"message"`
}

type gatewayError struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
	Details   string `json:"details"`
}

// apiError is what an error body says: the gateway's code and name when
// there is one, and a message.
type apiError struct {
	Code, Name, Message string
}

// parseErrorBody reads any error body; unreadable bodies give their text.
func parseErrorBody(body []byte) apiError {
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		return apiError{Message: snippet(body)}
	}
	var out apiError
	var msgs []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			msgs = append(msgs, s)
		}
	}
	var gw gatewayError
	var str string
	switch {
	case json.Unmarshal(e.Error, &gw) == nil && (gw.ErrorCode != "" || gw.Message != ""):
		out.Code, out.Name = gw.ErrorCode, gatewayNames[gw.ErrorCode]
		add(gw.Message)
		add(gw.Details)
	case json.Unmarshal(e.Error, &str) == nil:
		add(str)
	}
	add(e.ErrorMessage)
	add(e.Message)
	if len(e.Errors) > 0 && string(e.Errors) != "null" {
		var list []string
		if json.Unmarshal(e.Errors, &list) == nil {
			for _, s := range list {
				add(s)
			}
		} else {
			add(snippet(e.Errors))
		}
	}
	if len(msgs) == 0 {
		add(snippet(body))
	}
	out.Message = strings.Join(msgs, "; ")
	return out
}

// snippet is body text short enough for an error message.
func snippet(b []byte) string { return providers.Snippet(b) }
