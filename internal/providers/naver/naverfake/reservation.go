package naverfake

import (
	"net/http"
	"strings"
	"time"
)

// The reservation API of the SENS AlimTalk reference: a send with
// reserveTime is a reservation whose reserveId is the send's requestId.
// GET .../reservations/{reserveId}/reserve-status answers its state
// (READY until reserveTime, then DONE; CANCELED once cancelled; a state
// set with SetReservationState, such as SKIP, wins), with reserveTime
// written with its offset as the current reference does.
// DELETE .../reservations/{reserveId} cancels a READY one (204) and
// refuses any other (400); an unknown reserveId is 404.

// reservedSend is a reservation the fake took.
type reservedSend struct {
	at       time.Time
	zone     string
	state    string // "" until cancelled or set
	messages int
}

// reserve records the reservation of request requestID.
func (f *Fake) reserve(requestID string, req *request, messages int) {
	zone := deref(req.ReserveTimeZone, "Asia/Seoul")
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return // validate reported it
	}
	at, err := time.ParseInLocation("2006-01-02 15:04", *req.ReserveTime, loc)
	if err != nil {
		return
	}
	f.mu.Lock()
	if f.reservations == nil {
		f.reservations = map[string]*reservedSend{}
	}
	f.reservations[requestID] = &reservedSend{at: at, zone: zone, messages: messages}
	f.mu.Unlock()
}

// SetReservationState sets the state reservation requestID reports from
// now on (e.g. SKIP, PROCESSING).
func (f *Fake) SetReservationState(requestID, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.reservations[requestID]; r != nil {
		r.state = state
	}
}

// Canceled counts the messages of the reservations cancelled so far.
func (f *Fake) Canceled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.reservations {
		if r.state == "CANCELED" {
			n += r.messages
		}
	}
	return n
}

// stateOf is r's state at now; the caller holds f.mu.
func (r *reservedSend) stateOf(now time.Time) string {
	switch {
	case r.state != "":
		return r.state
	case now.Before(r.at):
		return "READY"
	}
	return "DONE"
}

// serveReservation serves a request under .../reservations/: rest is the
// path after it.
func (f *Fake) serveReservation(w http.ResponseWriter, r *http.Request, rest string) {
	if !f.authorized(r) {
		writeGatewayError(w, 401, "200", "Authentication Failed", "Invalid authentication information.")
		return
	}
	id, status, _ := strings.Cut(rest, "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	res := f.reservations[id]
	switch {
	case r.Method == http.MethodGet && status == "reserve-status":
		if res == nil {
			writeJSON(w, 404, map[string]any{"status": 404, "errorMessage": "Not Found"})
			return
		}
		loc, _ := time.LoadLocation(res.zone)
		writeJSON(w, 200, map[string]string{"reserveId": id, "reserveTime": res.at.In(loc).Format("2006-01-02T15:04:05-07:00"),
			"reserveTimeZone": res.zone, "reserveStatus": res.stateOf(f.now())})
	case r.Method == http.MethodDelete && status == "":
		switch {
		case res == nil:
			writeJSON(w, 404, map[string]any{"status": 404, "errorMessage": "Not Found"})
		case res.stateOf(f.now()) != "READY":
			writeJSON(w, 400, map[string]any{"status": 400, "errorMessage": "reservation is " + res.stateOf(f.now())})
		default:
			res.state = "CANCELED"
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		f.tb.Errorf("naverfake: %s %s: want GET .../reservations/{reserveId}/reserve-status or DELETE .../reservations/{reserveId}", r.Method, r.RequestURI)
		http.NotFound(w, r)
	}
}

// reservationsPath prefixes the reservation API's paths of serviceID.
func reservationsPath(serviceID string) string {
	return "/alimtalk/v2/services/" + serviceID + "/reservations/"
}
