package naver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

var (
	_ providers.Reserving           = (*Client)(nil)
	_ providers.ReservationCanceler = (*Client)(nil)
)

// ReserveHorizon is how far ahead NAVER takes a reservation
// (reserve_horizon_days).
func (c *Client) ReserveHorizon() time.Duration {
	return time.Duration(c.cfg.ReserveHorizonDays) * 24 * time.Hour
}

// reserveStates are the reservation states of the SENS AlimTalk API
// reference (reservation status query), SKIP included since its 2026
// revision.
var reserveStates = map[string]string{
	"READY":      "waiting to be sent",
	"PROCESSING": "being sent",
	"CANCELED":   "cancelled",
	"FAIL":       "send request failed",
	"DONE":       "sent",
	"STALE":      "send request failed: too late",
	"SKIP":       "failed: no service",
}

// reservation is the reservation status query's answer.
type reservation struct {
	ReserveID       string `json:"reserveId"`
	ReserveTime     string `json:"reserveTime"`
	ReserveTimeZone string `json:"reserveTimeZone"`
	ReserveStatus   string `json:"reserveStatus"`
}

// CancelReservation cancels the reservation of send request requestID
// (NAVER's reserveId is the send's requestId): DELETE
// .../reservations/{reserveId}, answered 204. A refusal is explained by
// the reservation's state (GET .../reserve-status): one CANCELED already
// counts as cancelled; any other is a Permanent *providers.Error naming
// the state (DONE: sent; PROCESSING: being sent; SKIP, FAIL, STALE: it
// failed and nothing will be sent).
func (c *Client) CancelReservation(ctx context.Context, _ job.Kind, requestID string) error {
	resp, body, err := c.reservationCall(ctx, http.MethodDelete, requestID, "")
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	refused := c.httpError(resp, body)
	r, err := c.reservationStatus(ctx, requestID)
	if err != nil {
		return fmt.Errorf("%w (reservation status: %v)", refused, err)
	}
	if r.ReserveStatus == "CANCELED" {
		return nil
	}
	what, ok := reserveStates[r.ReserveStatus]
	if !ok {
		what = "unknown state"
	}
	return &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonProviderRejected,
		HTTPStatus: resp.StatusCode, Code: r.ReserveStatus,
		Message: fmt.Sprintf("reservation %s cannot be cancelled: %s (%s)", requestID, r.ReserveStatus, what)}
}

// reservationStatus queries the state of reservation requestID.
func (c *Client) reservationStatus(ctx context.Context, requestID string) (*reservation, error) {
	resp, body, err := c.reservationCall(ctx, http.MethodGet, requestID, "/reserve-status")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.httpError(resp, body)
	}
	return parseReservation(body)
}

// parseReservation reads the reservation status query's answer.
func parseReservation(body []byte) (*reservation, error) {
	var r reservation
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("reservation status answer: %w", err)
	}
	if r.ReserveStatus == "" {
		return nil, errors.New("reservation status answer: no reserveStatus")
	}
	return &r, nil
}

// reservationCall makes one signed request on reservation requestID.
func (c *Client) reservationCall(ctx context.Context, method, requestID, suffix string) (*http.Response, []byte, error) {
	u := strings.ReplaceAll(c.resvURL, "{reserveId}", url.PathEscape(requestID)) + suffix
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, nil, c.invalid(fmt.Sprintf("build request: %v", err))
	}
	req.Header.Set("Accept", "application/json")
	sign(req, c.Now(), c.accessKey, c.secretKey)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable, Message: "reservation " + method, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, nil, fmt.Errorf("read reservation answer: %w", err)
	}
	return resp, body, nil
}
