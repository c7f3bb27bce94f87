package providertest

import (
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// Script is the plumbing every provider fake shares: the answers queued
// for its coming send and lookup requests, the failure codes injected per
// phone number, and the counts and last body of what reached it. What a
// fake makes of an answer (the provider's status codes, bodies and
// records) stays in the fake.
//
// The zero Script is ready to use; it is safe for concurrent use and must
// not be copied after first use. A fake holds one and calls SendTurn for
// each send request and LookupTurn for each lookup (query) request.
type Script struct {
	mu        sync.Mutex
	sends     []turn
	lookups   []turn
	phoneCode map[string]string // digits of the phone -> code
	nSends    int
	nLookups  int
	lastBody  []byte
}

// turn is one queued answer: an Answer, or a Raw when raw is set.
type turn struct {
	a   Answer
	raw *Raw
}

// Raw is an answer a fake writes as it is, for cases Answer has no words
// for (an odd body, a count that does not match the request).
type Raw struct {
	Status int
	Body   string
	Header map[string]string // set on the answer before Status is written
}

// Write writes r to w: its header, its status, its body.
func (r *Raw) Write(w http.ResponseWriter) {
	for k, v := range r.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(r.Status)
	io.WriteString(w, r.Body)
}

// Next queues answers, one each, for the coming send requests; once the
// queue is empty, send requests get the zero Answer (success).
//
// An answer with LookupStatus queues that status for the coming lookup
// request instead. It takes a send request's turn as well, with
// LookupStatus cleared, only when it also sets a send field (Codes with
// an entry, or any other field): Answer{LookupStatus: 500} fails the next
// lookup and leaves the sends alone.
func (s *Script) Next(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range answers {
		if a.LookupStatus != 0 {
			s.lookups = append(s.lookups, turn{a: Answer{LookupStatus: a.LookupStatus}})
			a.LookupStatus = 0
			if !hasSendPart(a) {
				continue
			}
		}
		s.sends = append(s.sends, turn{a: a})
	}
}

// hasSendPart reports whether a, its LookupStatus cleared, says anything
// about a send request. An empty Codes says nothing.
func hasSendPart(a Answer) bool {
	if len(a.Codes) == 0 {
		a.Codes = nil
	}
	return !reflect.ValueOf(a).IsZero()
}

// NextRaw queues r for the coming send request, after any answer queued
// before it.
func (s *Script) NextRaw(r Raw) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends = append(s.sends, turn{raw: &r})
}

// NextLookupRaw queues r for the coming lookup request, after any answer
// queued before it.
func (s *Script) NextLookupRaw(r Raw) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups = append(s.lookups, turn{raw: &r})
}

// SendTurn records a send request that reached the fake with body: it
// counts it in Sends, keeps body as LastBody, and returns the request's
// number (1 for the first) and the answer queued for it, which is either
// a (the zero Answer when nothing is queued) or raw (nil unless NextRaw
// queued it).
func (s *Script) SendTurn(body []byte) (n int, a Answer, raw *Raw) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nSends++
	s.lastBody = body
	var t turn
	if len(s.sends) > 0 {
		t, s.sends = s.sends[0], s.sends[1:]
	}
	return s.nSends, t.a, t.raw
}

// CountUnreadSend counts in Sends a send request whose body the fake
// could not read (the client went away): it takes no queued answer and
// leaves LastBody as it was.
func (s *Script) CountUnreadSend() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nSends++
}

// LookupTurn records a lookup request that reached the fake: it counts it
// in Lookups and returns the answer queued for it, which is either status
// (an Answer's LookupStatus; 0 when nothing is queued) or raw (nil unless
// NextLookupRaw queued it).
func (s *Script) LookupTurn() (status int, raw *Raw) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nLookups++
	var t turn
	if len(s.lookups) > 0 {
		t, s.lookups = s.lookups[0], s.lookups[1:]
	}
	return t.a.LookupStatus, t.raw
}

// FailPhone sets the code the fake answers every message to phone with,
// until FailPhone(phone, ""). Phones are compared as their digits only.
func (s *Script) FailPhone(phone, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.phoneCode, Digits(phone))
		return
	}
	if s.phoneCode == nil {
		s.phoneCode = map[string]string{}
	}
	s.phoneCode[Digits(phone)] = code
}

// PhoneCode is the code FailPhone set for phone (compared as digits), if
// any.
func (s *Script) PhoneCode(phone string) (code string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code, ok = s.phoneCode[Digits(phone)]
	return code, ok
}

// Sends counts send requests that reached the fake, whatever their answer.
func (s *Script) Sends() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nSends
}

// Lookups counts lookup requests that reached the fake, whatever their
// answer.
func (s *Script) Lookups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nLookups
}

// LastBody is a copy of the body of the most recent send request.
func (s *Script) LastBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.lastBody)
}

// Digits is s with everything but the ASCII digits dropped: phone numbers
// as the fakes compare them.
func Digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
