package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/talkrelay/talkrelay/internal/streams"
)

// CancelRequest asks the workers to cancel a job. It mirrors
// schemas/cancel-request.v1.schema.json.
type CancelRequest struct {
	Version int    `json:"version"`
	JobID   string `json:"job_id"`
}

// CancelOutcome says what a cancel did.
type CancelOutcome string

const (
	// CancelStored: the cancel is stored now; recipients without a final
	// result end Canceled.
	CancelStored CancelOutcome = "canceled"
	// CancelAlready: the job was cancelled before (CanceledAt).
	CancelAlready CancelOutcome = "already_canceled"
	// CancelInvalid: the request could not be read; nothing was done.
	CancelInvalid CancelOutcome = "invalid"
	// CancelError: the worker could not read or write NATS; ask again.
	CancelError CancelOutcome = "error"
)

// CancelReply is a worker's answer to a CancelRequest. It mirrors
// schemas/cancel-reply.v1.schema.json.
type CancelReply struct {
	Version int           `json:"version"`
	JobID   string        `json:"job_id"`
	Account string        `json:"account"`
	Outcome CancelOutcome `json:"outcome"`
	// CanceledAt is when the job was first cancelled.
	CanceledAt *time.Time `json:"canceled_at,omitempty"`
	// Results counts the job's recipients with a final result when the
	// reply was made, by status (Canceled included).
	Results map[Status]int `json:"results"`
	// TooLate counts the recipients keeping a result other than Canceled.
	TooLate int `json:"too_late"`
	// ReservationsCanceled counts the recipients whose provider-side
	// reservation the request cancelled (each got a Canceled result).
	ReservationsCanceled int    `json:"reservations_canceled"`
	Message              string `json:"message"`
}

// ErrNoWorker says no worker serves the account's cancel subject.
var ErrNoWorker = errors.New("no worker serves the account")

// CancelSubject is where cancel requests for jobs of account go:
// talkrelay.cancel.<account>.
func CancelSubject(account string) string { return streams.CancelSubject(account) }

// Cancel asks a worker serving account to cancel job jobID and returns its
// answer: what is not sent yet is not sent, and each such recipient gets
// the final result Canceled (see the README's "Reservations and cancel").
// Cancelling twice, or a job no worker has seen, is an answer, not an
// error. It waits for the answer until ctx ends.
func (c *Client) Cancel(ctx context.Context, account, jobID string) (*CancelReply, error) {
	req, err := json.Marshal(CancelRequest{Version: 1, JobID: jobID})
	if err != nil {
		return nil, err
	}
	m, err := c.js.Conn().RequestWithContext(ctx, CancelSubject(account), req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("%w %q (nothing answers %s)", ErrNoWorker, account, CancelSubject(account))
	}
	if err != nil {
		return nil, err
	}
	var reply CancelReply
	if err := json.Unmarshal(m.Data, &reply); err != nil {
		return nil, fmt.Errorf("unreadable cancel reply: %w", err)
	}
	return &reply, nil
}
