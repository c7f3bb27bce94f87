// Package naverfake serves NAVER Cloud SENS's AlimTalk send API on
// httptest, as the API document documents it, for tests of the naver adapter and
// of anything that sends through it (the worker end to end).
//
// The fake is written from the documents, not from the adapter: its
// request types and its signature code are its own, so the two cannot
// share a mistake. It checks every request as strictly as the API gateway
// and SENS do (signature v2, timestamp skew, unknown fields, mandatory
// fields, lengths, button rules) and reports each breach to the test with
// Errorf. Failures are injected with providertest.Answer (Next), a raw
// answer (NextRaw, NextLookupRaw), or per phone number (FailPhone).
//
// It also serves the request query (GET .../messages?requestId= or a
// requestStartTime/requestEndTime window) from the messages it processed,
// as providertest.LookupFake: every message of a request it took is
// listed with the code it was answered (A000 or the injected failure),
// also when the answer itself was lost (Answer.Hang, Malformed, Empty).
// Times on the query API are KST (Asia/Seoul), NAVER's console time.
//
// The channel and template queries (admin.go) answer from channels and
// templates tests add with AddChannel and AddTemplate.
package naverfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// The credentials and service the fake accepts unless told otherwise.
const (
	AccessKey = "TestAccessKey"
	SecretKey = "TestSecretKey"
	ServiceID = "ncp:kkobizmsg:kr:123456789012:talkrelay"
)

// Option changes a fake before it starts.
type Option func(*Fake)

// WithClock sets the fake's clock, which checks the signature timestamp
// (5 minutes of skew allowed) and dates the answers. now is called from
// the server's goroutines. Default: time.Now.
func WithClock(now func() time.Time) Option { return func(f *Fake) { f.now = now } }

// WithCredentials sets the access key, secret key and service id the fake
// accepts.
func WithCredentials(accessKey, secretKey, serviceID string) Option {
	return func(f *Fake) { f.accessKey, f.secretKey, f.serviceID = accessKey, secretKey, serviceID }
}

// Fake is NAVER's AlimTalk send and request query API. It implements
// providertest.LookupFake; it is safe for concurrent use.
type Fake struct {
	tb  testing.TB
	srv *httptest.Server
	now func() time.Time

	accessKey, secretKey, serviceID string

	// script holds the queued answers, FailPhone's codes, the counts and
	// the last body.
	script providertest.Script

	mu         sync.Mutex
	lastLookup url.Values
	accepted   map[acceptKey]int
	records    []record // every message of every request taken, in order
	// reservations are the reservations taken, by requestId (reservation.go)
	reservations map[string]*reservedSend
	admin        adminState
	// undelivered are the receipt codes of FailDelivery, by phone.
	undelivered map[string]string
}

type acceptKey struct{ phone, content string }

// record is one message of a request the fake took: what the request
// query lists.
type record struct {
	requestID, messageID       string
	at                         time.Time
	plusFriendID, templateCode string
	countryCode, to, content   string
	code, name, desc           string // requestStatus*
	useSmsFailover             bool
	// deliveryCode is the KakaoTalk receipt code of a taken message that
	// was not delivered (FailDelivery); "" when it was.
	deliveryCode string
}

// kst is the zone of the query API's times and of requestTime.
var kst = time.FixedZone("KST", 9*3600)

// The query API's layouts: its time parameters (the current API
// reference's YYYY-MM-DD HH:mm:ss), and completeTime and requestTime in
// its answers.
const (
	queryParamLayout   = "2006-01-02 15:04:05"
	completeTimeLayout = "2006-01-02T15:04:05"
	requestTimeLayout  = "2006-01-02T15:04:05.000"
)

var _ providertest.LookupFake = (*Fake)(nil)

// New starts a fake that reports request breaches to tb and stops when
// tb's test ends.
func New(tb testing.TB, opts ...Option) *Fake {
	tb.Helper()
	f := &Fake{tb: tb, now: time.Now, accessKey: AccessKey, secretKey: SecretKey, serviceID: ServiceID,
		accepted: map[acceptKey]int{}, undelivered: map[string]string{}}
	for _, o := range opts {
		o(f)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

// URL is the base URL to point the adapter at (an account's base_url).
func (f *Fake) URL() string { return f.srv.URL }

// Next queues answers for the coming send requests, one each; with the
// queue empty, requests succeed (but for FailPhone). An answer with
// LookupStatus is queued for the next query request instead; it takes a
// send request's turn too only when it also sets a send field
// (providertest.Script.Next).
func (f *Fake) Next(answers ...providertest.Answer) { f.script.Next(answers...) }

// NextLookupRaw queues an answer of the given status and body for the
// next query request (after any queued before it).
func (f *Fake) NextLookupRaw(status int, body string) {
	f.script.NextLookupRaw(providertest.Raw{Status: status, Body: body})
}

// NextRaw queues an answer of the given status, body and headers for the
// next send request (after any queued before it).
func (f *Fake) NextRaw(status int, body string, headers map[string]string) {
	f.script.NextRaw(providertest.Raw{Status: status, Body: body, Header: headers})
}

// FailPhone answers every message to phone with requestStatusCode code
// (requestStatusName "fail") in requests that are otherwise answered per
// message, until FailPhone(phone, ""). phone is compared as digits only,
// as "to" is sent. A code from Next's Answer.Codes wins over it.
func (f *Fake) FailPhone(phone, code string) { f.script.FailPhone(phone, code) }

// Sends counts send requests that reached the fake, whatever their answer.
func (f *Fake) Sends() int { return f.script.Sends() }

// LastBody is the body of the most recent send request.
func (f *Fake) LastBody() []byte { return f.script.LastBody() }

// Lookups counts query requests that reached the fake, whatever their answer.
func (f *Fake) Lookups() int { return f.script.Lookups() }

// LastLookup is the query parameters of the most recent query request.
func (f *Fake) LastLookup() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := url.Values{}
	for k, vs := range f.lastLookup {
		v[k] = append([]string(nil), vs...)
	}
	return v
}

// Accepted counts how many times a message to phone (digits only) with
// exactly this content was taken with A000 (also when the answer was lost:
// Answer.Hang, Malformed, Empty).
func (f *Fake) Accepted(phone, content string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted[acceptKey{providertest.Digits(phone), content}]
}

// AcceptedTo counts how many times a message to phone (digits only),
// whatever its content, was taken with A000.
func (f *Fake) AcceptedTo(phone string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, p := 0, providertest.Digits(phone)
	for k, v := range f.accepted {
		if k.phone == p {
			n += v
		}
	}
	return n
}

// Request types of the fake: unknown fields are refused.
type request struct {
	PlusFriendID    *string   `json:"plusFriendId"`
	TemplateCode    *string   `json:"templateCode"`
	Messages        []message `json:"messages"`
	ReserveTime     *string   `json:"reserveTime"`
	ReserveTimeZone *string   `json:"reserveTimeZone"`
}

type pair struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
}

type message struct {
	CountryCode   *string `json:"countryCode"`
	To            *string `json:"to"`
	Title         *string `json:"title"`
	Content       *string `json:"content"`
	HeaderContent *string `json:"headerContent"`
	ItemHighlight *pair   `json:"itemHighlight"`
	Item          *struct {
		List    []pair `json:"list"`
		Summary *pair  `json:"summary"`
	} `json:"item"`
	Summary *pair `json:"summary"`
	Buttons []struct {
		Type          *string `json:"type"`
		Name          *string `json:"name"`
		LinkMobile    *string `json:"linkMobile"`
		LinkPc        *string `json:"linkPc"`
		SchemeIos     *string `json:"schemeIos"`
		SchemeAndroid *string `json:"schemeAndroid"`
	} `json:"buttons"`
	UseSmsFailover *bool `json:"useSmsFailover"`
	FailoverConfig *struct {
		Type    *string `json:"type"`
		From    *string `json:"from"`
		Subject *string `json:"subject"`
		Content *string `json:"content"`
	} `json:"failoverConfig"`
}

var digitsRE = regexp.MustCompile(`^[0-9]+$`)

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	wantPath := "/alimtalk/v2/services/" + f.serviceID + "/messages"
	path, query, _ := strings.Cut(r.RequestURI, "?")
	if f.serveAdmin(w, r) {
		return
	}
	switch {
	case r.Method == http.MethodPost && r.RequestURI == wantPath:
		f.serveSend(w, r)
	case r.Method == http.MethodGet && path == wantPath && query != "":
		f.serveLookup(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(path, wantPath+"/") && query == "" && !strings.Contains(path[len(wantPath)+1:], "/"):
		f.serveMessage(w, r, path[len(wantPath)+1:])
	case strings.HasPrefix(path, reservationsPath(f.serviceID)):
		f.serveReservation(w, r, strings.TrimPrefix(path, reservationsPath(f.serviceID)))
	default:
		f.tb.Errorf("naverfake: %s %s, want POST %s or GET %s?... (service id unescaped)", r.Method, r.RequestURI, wantPath, wantPath)
		http.NotFound(w, r)
	}
}

func (f *Fake) serveSend(w http.ResponseWriter, r *http.Request) {
	t := f.tb
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("naverfake: read body: %v", err)
		return
	}
	n, a, raw := f.script.SendTurn(body)

	if a.Unauthorized {
		writeGatewayError(w, 401, "200", "Authentication Failed", "Invalid authentication information.")
		return
	}
	if !f.authorized(r) {
		writeGatewayError(w, 401, "200", "Authentication Failed", "Invalid authentication information.")
		return
	}
	if ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" ||
		(params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		t.Errorf("naverfake: Content-Type %q, want application/json", r.Header.Get("Content-Type"))
	}
	req := f.validate(body)

	switch {
	case raw != nil:
		raw.Write(w)
		return
	case a.Hang:
		// Taken, then the answer is lost.
		if req != nil {
			f.take(n, req, a.Codes)
		}
		<-r.Context().Done()
		return
	case a.HangUntaken:
		<-r.Context().Done()
		return
	case a.Status != 0:
		writeStatus(w, a.Status, a.RetryAfter)
		return
	case a.Malformed:
		// A 2xx: NAVER took the request even though the body is lost.
		if req != nil {
			f.take(n, req, a.Codes)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(202)
		io.WriteString(w, `<html>gateway</html>`)
		return
	case a.Empty:
		if req != nil {
			f.take(n, req, a.Codes)
		}
		w.WriteHeader(202)
		return
	}
	if req == nil {
		writeJSON(w, 400, map[string]any{"status": 400, "errors": []string{"invalid body"}, "errorMessage": "Bad Request"})
		return
	}
	requestID, at, recs := f.take(n, req, a.Codes)
	out := map[string]any{
		"requestId":   requestID,
		"requestTime": at.In(kst).Format(requestTimeLayout),
		"statusCode":  "202",
		"statusName":  "success",
	}
	if req.ReserveTime != nil {
		out["statusName"] = "reserved"
		f.reserve(requestID, req, len(recs))
	}
	msgs := make([]map[string]any, len(recs))
	for i, rec := range recs {
		msgs[i] = map[string]any{
			"messageId": rec.messageID, "countryCode": rec.countryCode,
			"to": rec.to, "content": rec.content,
			"requestStatusCode": rec.code, "requestStatusName": rec.name, "requestStatusDesc": rec.desc,
			"useSmsFailover": rec.useSmsFailover,
		}
	}
	out["messages"] = msgs
	writeJSON(w, 202, out)
}

// take processes send request number n: every message gets its code (A000
// unless codes or FailPhone say otherwise) and is recorded for the query
// API; A000 messages count as accepted.
func (f *Fake) take(n int, req *request, codes map[int]string) (requestID string, at time.Time, recs []record) {
	requestID, at = "RQ-"+strconv.Itoa(n), f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range req.Messages {
		rec := record{
			requestID: requestID, messageID: fmt.Sprintf("MSG-%d-%d", n, i), at: at,
			plusFriendID: deref(req.PlusFriendID, ""), templateCode: deref(req.TemplateCode, ""),
			countryCode: deref(m.CountryCode, "82"), to: deref(m.To, ""), content: deref(m.Content, ""),
			code: "A000", name: "success", desc: "success",
			useSmsFailover: m.UseSmsFailover != nil && *m.UseSmsFailover,
		}
		c, ok := codes[i]
		if !ok {
			c, ok = f.script.PhoneCode(rec.to)
		}
		if ok {
			rec.code, rec.name, rec.desc = c, "fail", "fake failure "+c
		} else {
			rec.deliveryCode = f.undelivered[rec.to]
			f.accepted[acceptKey{rec.to, rec.content}]++
		}
		f.records = append(f.records, rec)
		recs = append(recs, rec)
	}
	return requestID, at, recs
}

// writeStatus answers a whole request with status and the body NAVER
// documents for it: the API Gateway's error for 401, 429, 503 and 504,
// SENS's for the rest.
func writeStatus(w http.ResponseWriter, status int, retryAfter string) {
	switch {
	case status == 401:
		writeGatewayError(w, 401, "200", "Authentication Failed", "Invalid authentication information.")
	case status == 429:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeGatewayError(w, 429, "420", "Rate Limited", "")
	case status == 503:
		writeGatewayError(w, 503, "500", "Endpoint Error", "")
	case status == 504:
		writeGatewayError(w, 504, "510", "Endpoint Timeout", "")
	case status >= 500:
		writeJSON(w, status, map[string]any{"status": status, "error": http.StatusText(status), "message": "internal error"})
	default:
		writeJSON(w, status, map[string]any{"status": status, "errors": []string{"messages[0].to: invalid"}, "errorMessage": http.StatusText(status)})
	}
}

// authorized checks signature v2 with the secret and the timestamp's
// freshness (the gateway allows 5 minutes of skew).
func (f *Fake) authorized(r *http.Request) bool {
	if p := f.signatureProblem(r); p != "" {
		f.tb.Errorf("naverfake: %s", p)
		return false
	}
	return true
}

// signatureProblem says what is wrong with r's signature v2, or "".
func (f *Fake) signatureProblem(r *http.Request) string {
	ts := r.Header.Get("x-ncp-apigw-timestamp")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Sprintf("timestamp %q is not milliseconds", ts)
	}
	if d := f.now().Sub(time.UnixMilli(ms)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Sprintf("timestamp %s off by %s", ts, d)
	}
	if ak := r.Header.Get("x-ncp-iam-access-key"); ak != f.accessKey {
		return fmt.Sprintf("access key %q", ak)
	}
	mac := hmac.New(sha256.New, []byte(f.secretKey))
	fmt.Fprintf(mac, "%s %s\n%s\n%s", r.Method, r.RequestURI, ts, f.accessKey)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := r.Header.Get("x-ncp-apigw-signature-v2"); got != want {
		return fmt.Sprintf("signature %q, want %q", got, want)
	}
	return ""
}

// validate checks the body against the API document and returns it; nil when it
// does not decode.
func (f *Fake) validate(body []byte) *request {
	t := f.tb
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req request
	if err := dec.Decode(&req); err != nil {
		t.Errorf("naverfake: body does not decode: %v\n%s", err, body)
		return nil
	}
	for _, p := range breaches(&req) {
		t.Errorf("naverfake: %s", p)
	}
	return &req
}

// breaches lists how req breaks the API document's rules.
func breaches(req *request) []string {
	var errs []string
	errf := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if req.PlusFriendID == nil || *req.PlusFriendID == "" {
		errf("plusFriendId missing")
	}
	if req.TemplateCode == nil || *req.TemplateCode == "" {
		errf("templateCode missing")
	}
	if n := len(req.Messages); n < 1 || n > 100 {
		errf("%d messages, want 1..100", n)
	}
	if req.ReserveTime != nil {
		zone := "Asia/Seoul"
		if req.ReserveTimeZone != nil {
			zone = *req.ReserveTimeZone
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			errf("reserveTimeZone %q: %v", zone, err)
		} else if _, err := time.ParseInLocation("2006-01-02 15:04", *req.ReserveTime, loc); err != nil {
			errf("reserveTime %q is not yyyy-MM-dd HH:mm", *req.ReserveTime)
		}
	}
	maxLen := func(field string, s *string, max int) {
		if s != nil && utf8.RuneCountInString(*s) > max {
			errf("%s: %d characters, max %d", field, utf8.RuneCountInString(*s), max)
		}
	}
	needPair := func(field string, p *pair, tmax, dmax int) {
		if p.Title == nil || p.Description == nil {
			errf("%s: title and description are mandatory", field)
			return
		}
		maxLen(field+".title", p.Title, tmax)
		maxLen(field+".description", p.Description, dmax)
	}
	for i, m := range req.Messages {
		f := fmt.Sprintf("messages[%d]", i) // field prefix
		if m.To == nil || !digitsRE.MatchString(*m.To) {
			errf("%s.to: %v, want digits only", f, m.To)
		}
		if m.CountryCode != nil && !digitsRE.MatchString(*m.CountryCode) {
			errf("%s.countryCode: %q", f, *m.CountryCode)
		}
		if m.Content == nil || *m.Content == "" {
			errf("%s.content: mandatory", f)
		}
		maxLen(f+".content", m.Content, 1000)
		maxLen(f+".title", m.Title, 50)
		maxLen(f+".headerContent", m.HeaderContent, 16)
		if m.ItemHighlight != nil {
			needPair(f+".itemHighlight", m.ItemHighlight, 30, 19)
		}
		if m.Item != nil {
			if n := len(m.Item.List); n < 2 || n > 10 {
				errf("%s.item.list: %d entries, want 2..10", f, n)
			}
			for j := range m.Item.List {
				needPair(fmt.Sprintf("%s.item.list[%d]", f, j), &m.Item.List[j], 6, 23)
			}
			if m.Item.Summary != nil {
				needPair(f+".item.summary", m.Item.Summary, 6, 14)
			}
		}
		if m.Summary != nil {
			needPair(f+".summary", m.Summary, 6, 14)
		}
		if len(m.Buttons) > 5 {
			errf("%s.buttons: %d, max 5", f, len(m.Buttons))
		}
		for j, b := range m.Buttons {
			bf := fmt.Sprintf("%s.buttons[%d]", f, j)
			if b.Type == nil || b.Name == nil || *b.Name == "" {
				errf("%s: type and name are mandatory", bf)
				continue
			}
			switch *b.Type {
			case "WL":
				if b.LinkMobile == nil || !strings.HasPrefix(*b.LinkMobile, "http") {
					errf("%s: WL needs linkMobile", bf)
				}
			case "AL":
				if b.SchemeIos == nil || b.SchemeAndroid == nil {
					errf("%s: AL needs schemeIos and schemeAndroid", bf)
				}
			case "DS", "BK", "MD", "AC":
			default:
				errf("%s.type: %q is not a NAVER AlimTalk button", bf, *b.Type)
			}
		}
		if fc := m.FailoverConfig; fc != nil {
			if fc.Type != nil && *fc.Type != "SMS" && *fc.Type != "LMS" {
				errf("%s.failoverConfig.type: %q", f, *fc.Type)
			}
			if fc.From != nil && !digitsRE.MatchString(*fc.From) {
				errf("%s.failoverConfig.from: %q, want digits", f, *fc.From)
			}
		}
	}
	return errs
}

func writeGatewayError(w http.ResponseWriter, status int, code, msg, details string) {
	e := map[string]string{"errorCode": code, "message": msg}
	if details != "" {
		e["details"] = details
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func deref(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}
