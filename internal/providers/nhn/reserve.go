package nhn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

var (
	_ providers.Reserving           = (*Client)(nil)
	_ providers.ReservationCanceler = (*Client)(nil)
)

// ReserveHorizon is how far ahead NHN takes a requestDate.
func (c *Client) ReserveHorizon() time.Duration { return reserveHorizon }

// CancelReservation cancels every message of send request requestID of
// kind: DELETE .../messages/{requestId} without recipientSeq, which the
// FriendTalk v1.5 API guide (and AlimTalk v2.3) documents as cancelling all
// of the request. talkrelay gives a reserved job requests of its own
// (providers.Key.OwnJob), so the request holds only that job's recipients.
// A refusal (header.isSuccessful false) is a Permanent *providers.Error
// with NHN's resultCode.
func (c *Client) CancelReservation(ctx context.Context, kind job.Kind, requestID string) error {
	api, ok := c.apis[kind]
	if !ok {
		return fmt.Errorf("nhn: kind %q has no cancel", kind)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, api.listURL()+"/"+url.PathEscape(requestID), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("X-Secret-Key", c.secretKey)
	api.header(req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable, Message: "cancel", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("nhn: read cancel answer: %w", err)
	}
	h := parseCancelAnswer(body)
	if h == nil {
		return &providers.Error{Provider: Name, Class: providers.Retryable, HTTPStatus: resp.StatusCode,
			Reason: result.ReasonProviderUnavailable, Message: "cancel answer without a header"}
	}
	if !h.IsSuccessful {
		return &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonProviderRejected, HTTPStatus: resp.StatusCode,
			Code: strconv.Itoa(h.ResultCode), Message: fmt.Sprintf("request %s not cancelled: %s", requestID, h.ResultMessage)}
	}
	return nil
}

// parseCancelAnswer reads the header of a cancel's answer; nil when it has
// none.
func parseCancelAnswer(body []byte) *responseHeader {
	var r struct {
		Header *responseHeader `json:"header"`
	}
	if json.Unmarshal(body, &r) != nil {
		return nil
	}
	return r.Header
}
