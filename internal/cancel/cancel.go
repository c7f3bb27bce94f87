// Package cancel is the cancel contract between services (and `enqueue
// cancel`) and the workers, as specified by schemas/cancel-request.v1 and
// schemas/cancel-reply.v1: a request names one job of the account of its
// subject (streams.CancelSubject), and a worker serving that account
// answers.
package cancel

import (
	"encoding/json"
	"fmt"
	"time"
)

// Request asks to cancel job JobID of the subject's account.
type Request struct {
	Version int    `json:"version"`
	JobID   string `json:"job_id"`
}

// Outcome says what a cancel did.
type Outcome string

const (
	// Canceled: the cancel marker is stored now; recipients without a final
	// result end canceled.
	Canceled Outcome = "canceled"
	// AlreadyCanceled: the job was cancelled before; nothing more was done
	// but cancelling provider-side reservations a first cancel could not.
	AlreadyCanceled Outcome = "already_canceled"
	// Invalid: the request could not be read; nothing was done.
	Invalid Outcome = "invalid"
	// Error: the marker or the job's results could not be read or stored;
	// ask again.
	Error Outcome = "error"
)

// Reply answers a Request.
type Reply struct {
	Version int     `json:"version"`
	JobID   string  `json:"job_id"`
	Account string  `json:"account"`
	Outcome Outcome `json:"outcome"`
	// CanceledAt is when the job was first cancelled.
	CanceledAt *time.Time `json:"canceled_at,omitempty"`
	// Results counts the job's recipients by their final result when the
	// cancel was answered (canceled included). A recipient with a result
	// other than canceled was too late to cancel.
	Results map[string]int `json:"results"`
	// TooLate counts the recipients that keep a result other than
	// canceled: sent (or refused, or failed) before the cancel.
	TooLate int `json:"too_late"`
	// ReservationsCanceled counts the recipients whose provider-side
	// reservation this request cancelled (each now has a canceled result).
	ReservationsCanceled int `json:"reservations_canceled"`
	// Message says the same in words.
	Message string `json:"message"`
}

// DecodeRequest reads a Request and checks it.
func DecodeRequest(data []byte) (*Request, error) {
	var r Request
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("cancel request: %w", err)
	}
	if r.Version != 1 {
		return nil, fmt.Errorf("cancel request: version %d, want 1", r.Version)
	}
	if r.JobID == "" || len(r.JobID) > 128 {
		return nil, fmt.Errorf("cancel request: job_id must be 1-128 characters")
	}
	return &r, nil
}
