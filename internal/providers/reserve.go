package providers

import (
	"context"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
)

// Reserving is implemented by a Provider whose send request has a
// reservation field: it takes a job's reserve_at and sends the message at
// that time itself. ReserveHorizon is how far ahead it accepts one; the
// worker holds a job reserved further ahead until it is within the horizon.
// A Provider without it has no reservation field: the worker holds a
// reserved job until its time and sends it then.
type Reserving interface {
	ReserveHorizon() time.Duration
}

// ReservationCanceler is implemented by a Provider that can cancel a
// reservation it took: CancelReservation cancels every message of the
// provider request requestID (the provider_request_id of their results),
// sent as a job of kind.
// An error that is a *Error of class Permanent means the provider refused
// (the reservation is no longer cancelable: sent, or being sent).
type ReservationCanceler interface {
	CancelReservation(ctx context.Context, kind job.Kind, requestID string) error
}
