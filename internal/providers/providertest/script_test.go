package providertest

import (
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
)

func TestScriptSendQueue(t *testing.T) {
	var s Script
	s.Next(Answer{Status: 503}, Answer{Codes: map[int]string{1: "E1"}})
	s.NextRaw(Raw{Status: 200, Body: "odd"})
	s.Next(Answer{Hang: true})

	want := []struct {
		a   Answer
		raw string
	}{
		{a: Answer{Status: 503}},
		{a: Answer{Codes: map[int]string{1: "E1"}}},
		{raw: "odd"},
		{a: Answer{Hang: true}},
		{}, // the queue is empty: success
		{},
	}
	for i, w := range want {
		body := []byte{byte('a' + i)}
		n, a, raw := s.SendTurn(body)
		if n != i+1 {
			t.Errorf("send %d: number %d", i, n)
		}
		if !reflect.DeepEqual(a, w.a) {
			t.Errorf("send %d: answer %+v, want %+v", i, a, w.a)
		}
		switch {
		case w.raw == "" && raw != nil:
			t.Errorf("send %d: raw %+v, want none", i, raw)
		case w.raw != "" && (raw == nil || raw.Body != w.raw):
			t.Errorf("send %d: raw %+v, want body %q", i, raw, w.raw)
		}
		if got := s.LastBody(); string(got) != string(body) {
			t.Errorf("send %d: LastBody %q, want %q", i, got, body)
		}
	}
	s.CountUnreadSend()
	if s.Sends() != len(want)+1 || s.Lookups() != 0 {
		t.Errorf("Sends %d, Lookups %d; want %d, 0", s.Sends(), s.Lookups(), len(want)+1)
	}
	if string(s.LastBody()) != "f" {
		t.Errorf("LastBody %q after an unread send, want the last read one", s.LastBody())
	}
	// LastBody is a copy.
	s.LastBody()[0] = 'x'
	if string(s.LastBody()) != "f" {
		t.Error("LastBody shares its bytes with the caller")
	}
}

// An answer with only LookupStatus goes to the lookup queue only; one
// that also says something about the send takes a send turn too, with
// LookupStatus cleared.
func TestScriptLookupStatusRule(t *testing.T) {
	var s Script
	s.Next(
		Answer{LookupStatus: 500},
		Answer{LookupStatus: 429, Hang: true},
		Answer{LookupStatus: 503, Codes: map[int]string{}}, // empty Codes: lookup only
	)
	s.NextLookupRaw(Raw{Status: 404, Body: "nf"})
	s.Next(Answer{Empty: true})

	for i, want := range []int{500, 429, 503} {
		if st, raw := s.LookupTurn(); st != want || raw != nil {
			t.Errorf("lookup %d: %d %+v, want %d", i, st, raw, want)
		}
	}
	if st, raw := s.LookupTurn(); st != 0 || raw == nil || raw.Status != 404 || raw.Body != "nf" {
		t.Errorf("lookup 3: %d %+v, want the raw 404", st, raw)
	}
	if st, raw := s.LookupTurn(); st != 0 || raw != nil {
		t.Errorf("lookup 4: %d %+v, want nothing queued", st, raw)
	}
	if s.Lookups() != 5 {
		t.Errorf("Lookups %d, want 5", s.Lookups())
	}

	for i, want := range []Answer{{Hang: true}, {Empty: true}, {}} {
		if _, a, _ := s.SendTurn(nil); !reflect.DeepEqual(a, want) {
			t.Errorf("send %d: %+v, want %+v", i, a, want)
		}
	}
}

func TestScriptFailPhone(t *testing.T) {
	var s Script
	if _, ok := s.PhoneCode("010"); ok {
		t.Error("the zero Script has a phone code")
	}
	s.FailPhone("+82 10-1234-5678", "E9")
	for _, p := range []string{"821012345678", "82-10-1234-5678"} {
		if c, ok := s.PhoneCode(p); !ok || c != "E9" {
			t.Errorf("PhoneCode(%q) = %q, %v; want E9", p, c, ok)
		}
	}
	if _, ok := s.PhoneCode("01012345678"); ok {
		t.Error("PhoneCode matched another number")
	}
	s.FailPhone("821012345678", "")
	if _, ok := s.PhoneCode("+82 10-1234-5678"); ok {
		t.Error("FailPhone(phone, \"\") did not clear the code")
	}
}

func TestScriptConcurrentSendsNumberedOnce(t *testing.T) {
	var s Script
	const n = 50
	for range n / 2 {
		s.Next(Answer{Status: 500})
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		seen   = map[int]bool{}
		failed int
	)
	for range n {
		wg.Go(func() {
			k, a, _ := s.SendTurn([]byte("b"))
			s.FailPhone("010", "E")
			s.PhoneCode("010")
			mu.Lock()
			defer mu.Unlock()
			seen[k] = true
			if a.Status != 0 {
				failed++
			}
		})
	}
	wg.Wait()
	if len(seen) != n || s.Sends() != n || failed != n/2 {
		t.Errorf("%d distinct numbers, Sends %d, %d queued answers taken; want %d, %d, %d", len(seen), s.Sends(), failed, n, n, n/2)
	}
}

func TestRawWrite(t *testing.T) {
	w := httptest.NewRecorder()
	r := Raw{Status: 418, Body: "teapot", Header: map[string]string{"Retry-After": "3"}}
	r.Write(w)
	if w.Code != 418 || w.Body.String() != "teapot" || w.Header().Get("Retry-After") != "3" {
		t.Errorf("wrote %d %q %v", w.Code, w.Body.String(), w.Header())
	}
}

func TestDigits(t *testing.T) {
	if got := Digits("+82 (10) 1234-5678x"); got != "821012345678" {
		t.Errorf("Digits = %q", got)
	}
}
