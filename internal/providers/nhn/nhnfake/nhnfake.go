// Package nhnfake serves NHN Cloud's KakaoTalk Bizmessage send APIs
// (AlimTalk v2.3 /messages and /raw-messages, FriendTalk v1.5 /messages)
// and their message list APIs (GET …/messages) on httptest, as NHN's
// documents describe them, for tests of the nhn adapter and of anything
// that sends through it (the worker end to end).
//
// The fake is written from the documents, not from the adapter: its
// request types and result messages are its own. It checks every request
// (appkey, X-Secret-Key, idempotency key, brand-message header, unknown
// fields, mandatory fields and lengths per API; the list's query
// parameters) and reports each breach to the test with Errorf. Failures
// are injected with providertest.Answer (Next) or per phone number
// (FailPhone).
//
// What the fake takes it remembers as a Record: the list APIs answer from
// those records, and a repeated X-NC-API-IDEMPOTENCY-KEY within 10 minutes
// of a taken request is refused with -1005, as NHN does, taking nothing.
//
// It serves the administration APIs too (admin.go): senders, sender
// groups and categories (AlimTalk Sender API), FriendTalk images and
// fallback settings, from state tests seed with AddSender and AddGroup.
package nhnfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// The credentials the fake accepts unless told otherwise.
const (
	AppKey    = "Ab12Cd34Ef56"
	SecretKey = "s3cr3t-KEY"
)

// IdempotencyWindow is how long NHN refuses a repeated
// X-NC-API-IDEMPOTENCY-KEY (the FriendTalk v1.5 API guide: "10分間同じkeyで要求すると、その要求を失敗処理します").
const IdempotencyWindow = 10 * time.Minute

// kst is the zone of NHN's dates (requestDate, createDate).
var kst = time.FixedZone("KST", 9*60*60)

// Option changes a fake before it starts.
type Option func(*Fake)

// WithCredentials sets the app key (in the path) and the secret key
// (X-Secret-Key) the fake accepts.
func WithCredentials(appKey, secretKey string) Option {
	return func(f *Fake) { f.appKey, f.secretKey = appKey, secretKey }
}

// WithClock sets the fake's clock: the time it stamps on what it takes
// (requestDate, createDate) and measures the idempotency window with.
func WithClock(now func() time.Time) Option {
	return func(f *Fake) { f.now = now }
}

// Fake is NHN's send and list APIs. It implements providertest.LookupFake;
// it is safe for concurrent use.
type Fake struct {
	tb   testing.TB
	srv  *httptest.Server
	done chan struct{}
	now  func() time.Time

	appKey, secretKey string

	// script holds the queued answers, FailPhone's codes, the counts and
	// the last body.
	script providertest.Script

	mu       sync.Mutex
	headers  []http.Header
	paths    []string
	records  []Record
	keys     map[string]time.Time // idempotency key -> when its request was taken
	accepted map[string]int       // by recipientGroupingKey
	acceptTo map[string]int       // by recipientNo
	admin    adminState           // the administration APIs (admin.go)
	// deliveryStep and deliveries shape the delivery states (delivery.go).
	deliveryStep time.Duration
	deliveries   map[string]delivery // by recipientNo digits
	stepping     []int               // the records with steps to come
}

// Record is one recipient the fake took, as its list API reports it.
type Record struct {
	Product      string // "alimtalk" or "friendtalk"
	RequestID    string
	RecipientSeq int
	RecipientNo  string
	// Sender is the senderKey (AlimTalk) or plusFriendId (FriendTalk).
	Sender       string
	TemplateCode string
	Content      string
	// RequestDate is the reservation, or when the fake took the request
	// (yyyy-MM-dd HH:mm, KST); CreateDate is when it took it
	// (yyyy-MM-dd HH:mm:ss, KST).
	RequestDate, CreateDate string
	// MessageStatus, ResultCode and ResendStatus go through the delivery
	// states of delivery.go: by default COMPLETED, "1000" (delivered) and
	// RSC01 (no fallback) at once; EditRecords changes them.
	MessageStatus, ResultCode, ResultCodeName string
	ResendStatus, ResendStatusName            string
	// UpdateDate is when the result last changed, ReceiveDate when it
	// reached the phone (yyyy-MM-dd HH:mm:ss, KST); both start as
	// CreateDate. The result-updates API lists records by UpdateDate.
	UpdateDate, ReceiveDate                 string
	SenderGroupingKey, RecipientGroupingKey string
	// IdempotencyKey is the X-NC-API-IDEMPOTENCY-KEY of its request.
	IdempotencyKey string
	// steps are the delivery states still to come.
	steps []step
}

var (
	_ providertest.Fake       = (*Fake)(nil)
	_ providertest.LookupFake = (*Fake)(nil)
)

var (
	sendRoute = regexp.MustCompile(`^/(alimtalk)/v2\.3/appkeys/([^/]+)/(messages|raw-messages)$|^/(friendtalk)/v1\.5/appkeys/([^/]+)/(messages)$` +
		`|^/(brand-message)/v1\.0/appkeys/([^/]+)/(freestyle-messages|basic-messages)$`)
	// The list APIs: FriendTalk v1.5 from the FriendTalk v1.5 API guide; AlimTalk v2.3 is
	// assumed to mirror it (NHN Cloud's current documents describe only its send).
	listRoute = regexp.MustCompile(`^/(alimtalk)/v2\.3/appkeys/([^/]+)/messages$|^/(friendtalk)/v1\.5/appkeys/([^/]+)/messages$` +
		`|^/(brand-message)/v1\.0/appkeys/([^/]+)/messages$`)
	// The result-updates APIs (FriendTalk v1.5 API guide; AlimTalk assumed the same).
	resultsRoute = regexp.MustCompile(`^/(alimtalk)/v2\.3/appkeys/([^/]+)/message-results$|^/(friendtalk)/v1\.5/appkeys/([^/]+)/message-results$`)
	// The adapter's key format: stable, short, header-safe.
	idempotencyKeyRE = regexp.MustCompile(`^tr1-[0-9a-f]{40}$`)
	requestDateRE    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}$`)
	digitsRE         = regexp.MustCompile(`^[0-9]+$`)
)

// New starts a fake that reports request breaches to tb and stops when
// tb's test ends.
func New(tb testing.TB, opts ...Option) *Fake {
	tb.Helper()
	f := &Fake{tb: tb, done: make(chan struct{}), now: time.Now, appKey: AppKey, secretKey: SecretKey,
		keys: map[string]time.Time{}, accepted: map[string]int{}, acceptTo: map[string]int{},
		admin: adminState{groups: map[string]*group{}}}
	for _, o := range opts {
		o(f)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(func() {
		close(f.done)
		f.srv.Close()
	})
	return f
}

// URL is the base URL to point the adapter at (an account's base_url).
func (f *Fake) URL() string { return f.srv.URL }

// Next queues answers for the coming requests, one each; with the queue
// empty, requests succeed (but for FailPhone). A code in Answer.Codes must
// be an NHN integer result code ("-9999"). An Answer with LookupStatus set
// is for the next list request; it takes a send request's turn too only
// when it also sets a send field (providertest.Script.Next).
//
// Of the send answers, Hang takes the messages (records them, counts them
// in Accepted, claims the idempotency key) and never answers; every other
// injected failure (Status, HangUntaken, Malformed, Empty, Unauthorized)
// takes nothing.
func (f *Fake) Next(answers ...providertest.Answer) { f.script.Next(answers...) }

// FailPhone answers every recipient with this recipientNo (compared as
// digits) with the integer result code (e.g. "-9999") inside a successful
// header, until FailPhone(phone, ""). A code from Next's Answer.Codes
// wins over it.
func (f *Fake) FailPhone(phone, code string) {
	if _, err := strconv.Atoi(code); code != "" && err != nil {
		panic("nhnfake: code " + code + " is not an integer")
	}
	f.script.FailPhone(phone, code)
}

// Sends counts send requests that reached the fake, whatever their answer.
func (f *Fake) Sends() int { return f.script.Sends() }

// Lookups counts list requests that reached the fake, whatever their answer.
func (f *Fake) Lookups() int { return f.script.Lookups() }

// LastBody is the body of the most recent send request.
func (f *Fake) LastBody() []byte { return f.script.LastBody() }

// Paths lists the paths of the send requests in arrival order.
func (f *Fake) Paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// IdempotencyKeys lists the X-NC-API-IDEMPOTENCY-KEY of the send requests
// in arrival order.
func (f *Fake) IdempotencyKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ks := make([]string, 0, len(f.headers))
	for _, h := range f.headers {
		ks = append(ks, h.Get("X-NC-API-IDEMPOTENCY-KEY"))
	}
	return ks
}

// Accepted counts how many times a recipient with this
// recipientGroupingKey was taken: answered with result code 0, or taken by
// a request answered with Hang.
func (f *Fake) Accepted(recipientGroupingKey string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted[recipientGroupingKey]
}

// AcceptedTo counts how many times a recipient with this recipientNo
// (compared as digits) was taken.
func (f *Fake) AcceptedTo(phone string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acceptTo[providertest.Digits(phone)]
}

// Records returns what the fake took, in the order it took it.
func (f *Fake) Records() []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked(f.now())
	return append([]Record(nil), f.records...)
}

// EditRecords calls edit on every record the fake holds, to change what
// the list API reports (a delivery failure, a fallback, a pending status);
// the records' delivery states due later are dropped.
func (f *Fake) EditRecords(edit func(*Record)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked(f.now())
	for i := range f.records {
		f.records[i].steps = nil
		edit(&f.records[i])
	}
}

// Request shapes: pointers tell absent from zero.
type button struct {
	Ordering      *int    `json:"ordering"`
	Type          string  `json:"type"`
	Name          string  `json:"name"`
	LinkMo        string  `json:"linkMo"`
	LinkPc        string  `json:"linkPc"`
	SchemeIos     string  `json:"schemeIos"`
	SchemeAndroid string  `json:"schemeAndroid"`
	ChatExtra     *string `json:"chatExtra"`
}

type resend struct {
	IsResend            *bool  `json:"isResend"`
	ResendType          string `json:"resendType"`
	ResendTitle         string `json:"resendTitle"`
	ResendContent       string `json:"resendContent"`
	ResendSendNo        string `json:"resendSendNo"`
	ResendUnsubscribeNo string `json:"resendUnsubscribeNo"`
}

type recipient struct {
	RecipientNo          string            `json:"recipientNo"`
	Content              *string           `json:"content"`
	TemplateParameter    map[string]string `json:"templateParameter"`
	ImageSeq             *int64            `json:"imageSeq"`
	ImageLink            string            `json:"imageLink"`
	Buttons              []button          `json:"buttons"`
	ResendParameter      *resend           `json:"resendParameter"`
	IsAd                 *bool             `json:"isAd"`
	RecipientGroupingKey string            `json:"recipientGroupingKey"`
}

type request struct {
	SenderKey         string      `json:"senderKey"`
	TemplateCode      string      `json:"templateCode"`
	PlusFriendID      string      `json:"plusFriendId"`
	RequestDate       *string     `json:"requestDate"`
	SenderGroupingKey string      `json:"senderGroupingKey"`
	CreateUser        string      `json:"createUser"`
	RecipientList     []recipient `json:"recipientList"`
}

// Breaches lists how body, sent to product ("alimtalk", "friendtalk" or
// "brand-message") and op ("messages", "raw-messages",
// "freestyle-messages" or "basic-messages"), breaks the documented rules of
// that API: unknown fields, missing or overlong fields. Tests of request
// building use it to hold golden bodies to the fake's rules.
func Breaches(product, op string, body []byte) []string {
	_, p, err := decodeSend(product, op, body)
	if err != nil {
		return []string{fmt.Sprintf("request body: %v", err)}
	}
	return p
}

// decodeSend decodes a send request's body strictly and lists its
// breaches; a Brand Message request comes back as the request it is for
// the recipients (what take records).
func decodeSend(product, op string, body []byte) (request, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if product == "brand-message" {
		var br brandRequest
		if err := dec.Decode(&br); err != nil {
			return request{}, nil, err
		}
		return br.request(), br.breaches(op), nil
	}
	var req request
	if err := dec.Decode(&req); err != nil {
		return request{}, nil, err
	}
	return req, breaches(product, op, &req), nil
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if f.serveAdmin(w, r) {
		return
	}
	switch r.Method {
	case http.MethodPost:
		if m := sendRoute.FindStringSubmatch(r.URL.Path); m != nil {
			f.serveSend(w, r, m[1]+m[4]+m[7], m[2]+m[5]+m[8], m[3]+m[6]+m[9])
			return
		}
	case http.MethodGet:
		if m := resultsRoute.FindStringSubmatch(r.URL.Path); m != nil {
			f.serveResults(w, r, m[1]+m[3], m[2]+m[4])
			return
		}
		if m := listRoute.FindStringSubmatch(r.URL.Path); m != nil {
			f.serveList(w, r, m[1]+m[3]+m[5], m[2]+m[4]+m[6])
			return
		}
	case http.MethodDelete:
		if m := cancelRoute.FindStringSubmatch(r.URL.Path); m != nil {
			f.serveCancel(w, r, m[1]+m[4], m[2]+m[5], m[3]+m[6])
			return
		}
	}
	f.tb.Errorf("nhnfake: unexpected %s %s", r.Method, r.URL.Path)
	http.NotFound(w, r)
}

// checkHeaders reports breaches of the headers every call carries.
func (f *Fake) checkHeaders(r *http.Request, product, appKey string) {
	t := f.tb
	if appKey != f.appKey {
		t.Errorf("nhnfake: appkey %q in path, want %q", appKey, f.appKey)
	}
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("nhnfake: %s %s: Content-Type %q, want application/json;charset=UTF-8", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	brand := r.Header.Get("X-Convert-To-Brand-Message")
	if product == "friendtalk" && brand != "true" {
		t.Errorf("nhnfake: FriendTalk v1.5 call without X-Convert-To-Brand-Message: true (got %q)", brand)
	}
	if product != "friendtalk" && brand != "" {
		t.Errorf("nhnfake: %s call with X-Convert-To-Brand-Message %q", product, brand)
	}
}

func (f *Fake) serveSend(w http.ResponseWriter, r *http.Request, product, appKey, op string) {
	t := f.tb
	body, _ := io.ReadAll(r.Body)

	f.mu.Lock()
	n, a, _ := f.script.SendTurn(body) // NHN has no raw answers
	f.headers = append(f.headers, r.Header.Clone())
	f.paths = append(f.paths, r.URL.Path)
	reqID := fmt.Sprintf("20260701100000abcDEF%04d", n)
	f.mu.Unlock()

	f.checkHeaders(r, product, appKey)
	key := r.Header.Get("X-NC-API-IDEMPOTENCY-KEY")
	if !idempotencyKeyRE.MatchString(key) {
		t.Errorf("nhnfake: X-NC-API-IDEMPOTENCY-KEY %q, want %s", key, idempotencyKeyRE)
	}
	secretOK := r.Header.Get("X-Secret-Key") == f.secretKey
	if !secretOK && !a.Unauthorized {
		t.Errorf("nhnfake: X-Secret-Key %q, want the account's secret", r.Header.Get("X-Secret-Key"))
	}

	req, problems, err := decodeSend(product, op, body)
	decoded := err == nil
	if !decoded {
		t.Errorf("nhnfake: request body: %v", err)
	}
	for _, p := range problems {
		t.Errorf("nhnfake: %s %s: %s", product, op, p)
	}

	switch {
	case a.Unauthorized || !secretOK:
		// NHN's documented answer to a bad secret key: a failed header
		// with -1001 (error-code page); HTTP status 200.
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`)
	case a.Status != 0:
		writeStatus(w, a.Status, a.RetryAfter)
	case a.HangUntaken:
		f.hang(r)
	case a.Malformed:
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":0,"resultMessage":"SUCC`)
	case a.Empty:
		w.WriteHeader(http.StatusOK)
	case !decoded:
		writeJSON(w, http.StatusBadRequest, `{"header":{"resultCode":-2000,"resultMessage":"Request body is invalid.","isSuccessful":false}}`)
	case !f.claim(key):
		// The same key within 10 minutes of a taken request: NHN fails
		// the request and takes nothing.
		if a.Hang {
			f.hang(r)
			return
		}
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":-1005,"resultMessage":"The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute.","isSuccessful":false}}`)
	case a.Hang:
		f.take(reqID, product, key, &req, a.Codes)
		f.hang(r)
	default:
		rs := f.take(reqID, product, key, &req, a.Codes)
		message := map[string]any{"requestId": reqID, "senderGroupingKey": req.SenderGroupingKey, "sendResults": rs}
		if product == "brand-message" {
			// The Brand Message guide's answer: no grouping keys, results
			// known by recipientSeq alone.
			delete(message, "senderGroupingKey")
			for i := range rs {
				rs[i].RecipientGroupingKey = ""
			}
		}
		out, _ := json.Marshal(map[string]any{
			"header":  map[string]any{"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": true},
			"message": message,
		})
		writeJSON(w, http.StatusOK, string(out))
	}
}

// hang never answers, until the client goes away or the test ends.
func (f *Fake) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.done:
	}
}

// claim reports whether a request with idempotency key may be taken, and
// if so holds the key for IdempotencyWindow. A request without the
// (optional) header is always taken.
func (f *Fake) claim(key string) bool {
	if key == "" {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if at, ok := f.keys[key]; ok && now.Sub(at) < IdempotencyWindow {
		return false
	}
	f.keys[key] = now
	return true
}

// writeStatus answers a whole request with an HTTP failure: NHN's JSON
// error for 429 and 500, a gateway's HTML page for the rest.
func writeStatus(w http.ResponseWriter, status int, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	switch status {
	case http.StatusTooManyRequests:
		writeJSON(w, status, `{"header":{"resultCode":-9999,"resultMessage":"Too many requests","isSuccessful":false}}`)
	case http.StatusInternalServerError:
		writeJSON(w, status, `{"header":{"resultCode":-9999,"resultMessage":"System error","isSuccessful":false}}`)
	default:
		// A gateway in front of NHN: not JSON.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status))
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// resultMessages are the resultMessage texts the fake sends with a
// recipient's failure code; others get "fake failure <code>".
var resultMessages = map[int]string{
	-1005: "same X-NC-API-IDEMPOTENCY-KEY within 10 minutes",
	-2000: "field value too long",
	-2018: "invalid button parameter",
	-3015: "template not found",
	-7000: "vendor call failed",
	-9999: "system error",
}

// sendResult is one entry of a send answer's sendResults.
type sendResult struct {
	RecipientSeq         int    `json:"recipientSeq"`
	RecipientNo          string `json:"recipientNo"`
	ResultCode           int    `json:"resultCode"`
	ResultMessage        string `json:"resultMessage"`
	RecipientGroupingKey string `json:"recipientGroupingKey,omitempty"`
}

// take answers every recipient of a request: with codes[i] for the i-th,
// else the code FailPhone set for its number, else success. It records the
// successes (what NHN took) and counts them.
func (f *Fake) take(reqID, product, key string, req *request, codes map[int]string) []sendResult {
	now := f.now().In(kst)
	requestDate, deliverFrom := now.Format("2006-01-02 15:04"), now
	if req.RequestDate != nil {
		requestDate = *req.RequestDate
		if at, err := time.ParseInLocation("2006-01-02 15:04", requestDate, kst); err == nil && at.After(now) {
			deliverFrom = at
		}
	}
	sender := req.SenderKey
	if product == "friendtalk" {
		sender = req.PlusFriendID
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var rs []sendResult
	for i, rc := range req.RecipientList {
		res := sendResult{RecipientSeq: i + 1, RecipientNo: rc.RecipientNo, ResultMessage: "SUCCESS", RecipientGroupingKey: rc.RecipientGroupingKey}
		c, ok := codes[i]
		if !ok {
			c, ok = f.script.PhoneCode(rc.RecipientNo)
		}
		if ok {
			n, err := strconv.Atoi(c)
			if err != nil {
				panic("nhnfake: code " + c + " is not an integer")
			}
			msg, known := resultMessages[n]
			if !known {
				msg = "fake failure " + c
			}
			res.ResultCode, res.ResultMessage = n, msg
			rs = append(rs, res)
			continue
		}
		rs = append(rs, res)
		f.accepted[rc.RecipientGroupingKey]++
		f.acceptTo[providertest.Digits(rc.RecipientNo)]++
		content := ""
		if rc.Content != nil {
			content = *rc.Content
		}
		f.records = append(f.records, Record{
			Product: product, RequestID: reqID, RecipientSeq: i + 1, RecipientNo: rc.RecipientNo,
			Sender: sender, TemplateCode: req.TemplateCode, Content: content,
			RequestDate: requestDate, CreateDate: now.Format(dateTimeLayout),
			UpdateDate: now.Format(dateTimeLayout), ReceiveDate: now.Format(dateTimeLayout),
			MessageStatus: "COMPLETED", ResendStatus: "RSC01", ResendStatusName: resendNames["RSC01"],
			SenderGroupingKey: req.SenderGroupingKey, RecipientGroupingKey: rc.RecipientGroupingKey,
			IdempotencyKey: key, steps: f.stepsLocked(rc.RecipientNo, deliverFrom),
		})
		f.stepping = append(f.stepping, len(f.records)-1)
	}
	f.advanceLocked(now)
	return rs
}

// breaches lists how req breaks the documented rules of its API.
func breaches(product, op string, req *request) []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	runes := utf8.RuneCountInString
	switch product {
	case "alimtalk":
		if req.SenderKey == "" {
			bad("senderKey is required")
		}
		if req.TemplateCode == "" || runes(req.TemplateCode) > 20 {
			bad("templateCode %q: required, at most 20 characters", req.TemplateCode)
		}
		if req.PlusFriendID != "" {
			bad("plusFriendId is not an AlimTalk field")
		}
	case "friendtalk":
		if req.PlusFriendID == "" || runes(req.PlusFriendID) > 30 {
			bad("plusFriendId %q: required, at most 30 characters", req.PlusFriendID)
		}
		if req.SenderKey != "" || req.TemplateCode != "" {
			bad("senderKey/templateCode are not FriendTalk v1.5 fields")
		}
	}
	if d := req.RequestDate; d != nil {
		if !requestDateRE.MatchString(*d) {
			bad("requestDate %q is not yyyy-MM-dd HH:mm", *d)
		} else if _, err := time.Parse("2006-01-02 15:04", *d); err != nil {
			bad("requestDate %q: %v", *d, err)
		}
	}
	if n := runes(req.SenderGroupingKey); n > 100 {
		bad("senderGroupingKey: %d characters, at most 100", n)
	}
	if n := len(req.RecipientList); n < 1 || n > 1000 {
		bad("recipientList: %d recipients, want 1..1000", n)
	}
	for i, rc := range req.RecipientList {
		at := func(format string, args ...any) { bad("recipientList[%d]: "+format, append([]any{i}, args...)...) }
		if !digitsRE.MatchString(rc.RecipientNo) || len(rc.RecipientNo) > 15 {
			at("recipientNo %q: digits, at most 15", rc.RecipientNo)
		}
		if n := runes(rc.RecipientGroupingKey); n > 100 {
			at("recipientGroupingKey: %d characters, at most 100", n)
		}
		content := ""
		if rc.Content != nil {
			content = *rc.Content
		}
		switch {
		case product == "alimtalk" && op == "messages":
			if rc.Content != nil {
				at("content is not a /messages field (templateParameter is)")
			}
			if len(rc.TemplateParameter) == 0 {
				at("templateParameter is required by this template")
			}
			if len(rc.Buttons) > 0 {
				at("buttons with type/name are /raw-messages fields")
			}
		case product == "alimtalk":
			if content == "" || runes(content) > 1300 {
				at("content: required, at most 1300 characters (%d)", runes(content))
			}
			if rc.TemplateParameter != nil {
				at("templateParameter is not a /raw-messages field")
			}
		case product == "friendtalk":
			max := 1000
			if rc.ImageSeq != nil {
				max = 400
				if rc.ImageLink == "" {
					at("imageLink is required with imageSeq")
				}
			}
			if content == "" || runes(content) > max {
				at("content: required, at most %d characters (%d)", max, runes(content))
			}
			if rc.IsAd == nil {
				at("isAd must be sent: the API's default is true")
			}
		}
		if product == "alimtalk" && (rc.IsAd != nil || rc.ImageSeq != nil || rc.ImageLink != "") {
			at("isAd/imageSeq/imageLink are FriendTalk fields")
		}
		allowed := map[string]string{"alimtalk": " DS WL AL BK MD AC BC BT ", "friendtalk": " WL AL BK MD "}[product]
		if len(rc.Buttons) > 5 {
			at("%d buttons, at most 5", len(rc.Buttons))
		}
		for j, b := range rc.Buttons {
			if b.Ordering == nil || *b.Ordering != j+1 {
				at("buttons[%d].ordering must be %d", j, j+1)
			}
			if !strings.Contains(allowed, " "+b.Type+" ") {
				at("buttons[%d].type %q not allowed", j, b.Type)
			}
			if b.Name == "" || runes(b.Name) > 14 {
				at("buttons[%d].name %q: required, at most 14 characters", j, b.Name)
			}
			if b.Type == "WL" && b.LinkMo == "" {
				at("buttons[%d]: WL needs linkMo", j)
			}
			if b.Type == "AL" && (b.SchemeIos == "" || b.SchemeAndroid == "") {
				at("buttons[%d]: AL needs schemeIos and schemeAndroid", j)
			}
		}
		if rp := rc.ResendParameter; rp != nil {
			if rp.IsResend == nil {
				at("resendParameter.isResend missing")
			}
			if rp.ResendType != "" && rp.ResendType != "SMS" && rp.ResendType != "LMS" {
				at("resendType %q", rp.ResendType)
			}
			if runes(rp.ResendTitle) > 20 {
				at("resendTitle over 20 characters")
			}
			if runes(rp.ResendContent) > 1000 {
				at("resendContent over 1000 characters")
			}
			if rp.ResendSendNo != "" && (!digitsRE.MatchString(rp.ResendSendNo) || len(rp.ResendSendNo) > 13) {
				at("resendSendNo %q: digits, at most 13", rp.ResendSendNo)
			}
			if rp.ResendUnsubscribeNo != "" && (product != "friendtalk" || !digitsRE.MatchString(rp.ResendUnsubscribeNo)) {
				at("resendUnsubscribeNo %q: FriendTalk only, digits", rp.ResendUnsubscribeNo)
			}
		}
	}
	return p
}
