// Package kakaofake serves the Kakao Enterprise Bizmessage API (OAuth
// client-credentials token endpoint, the send API, and the message search
// and detail APIs) on httptest, as Kakao's documents describe it, for
// tests of the kakao adapter and of anything that sends through it (the
// worker end to end).
//
// The fake is written from the documents, not from the adapter: its
// request types are its own. It checks every request (token form and
// Basic auth in either style, bearer token validity and expiry, unknown
// fields, mandatory fields, lengths, fallback rules, search dates and page
// size) and reports each breach to the test with Errorf. Failures are
// injected with providertest.Answer (Next; Codes[0] is the per-message
// code, the API sending one message per request; LookupStatus for the
// query APIs), per phone number (FailPhone), and on the token endpoint
// (NextToken, Revoke, GateTokens).
//
// The messages the fake takes are kept, in the order taken, and served by
// POST /v2/info/message/search (paged by last_uid) and
// GET /v2/info/message/search/detail/{uid}. A message is taken when it is
// answered code 200, 100 (processing) or 500 (an internal error after
// acceptance: the case lookups exist for), and by Answer.Hang; it is then
// listed with status_code API_200 unless SetStatus says otherwise.
package kakaofake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// The credentials the fake accepts unless told otherwise.
const (
	ClientID     = "C000000123"
	ClientSecret = "C000000123_s3cr3t"
)

// Styles of the token request's Basic authorization.
const (
	// AuthKakao is Kakao's documented "Basic {clientId} {clientSecret}".
	AuthKakao = "kakao"
	// AuthRFC is RFC 7617: "Basic base64({clientId}:{clientSecret})".
	AuthRFC = "rfc"
)

// Option changes a fake before it starts.
type Option func(*Fake)

// WithClock sets the fake's clock, which dates token expiry. now is
// called from the server's goroutines. Default: time.Now.
func WithClock(now func() time.Time) Option { return func(f *Fake) { f.now = now } }

// WithAuthStyle sets the token request authorization the fake expects:
// AuthKakao (default) or AuthRFC.
func WithAuthStyle(style string) Option { return func(f *Fake) { f.authStyle = style } }

// WithTokenLife sets expires_in of issued tokens in seconds (default
// 21600, six hours); 0 omits it and tokens last until Revoke.
func WithTokenLife(secs int) Option { return func(f *Fake) { f.tokenLife = secs } }

// WithSendPath sets the regular expression the send path must match
// (default `^/v2/send/kakao$`); its group 1, if any, must equal the
// body's cid (the operator variant `^/v2/request/([^/]+)/kakao$`).
func WithSendPath(re string) Option {
	return func(f *Fake) { f.sendPath = regexp.MustCompile(re) }
}

// WithCredentials sets the client id and secret the fake accepts.
func WithCredentials(clientID, clientSecret string) Option {
	return func(f *Fake) { f.clientID, f.clientSecret = clientID, clientSecret }
}

// Fake is the Kakao Enterprise API. It implements providertest.Fake; it
// is safe for concurrent use.
type Fake struct {
	tb  testing.TB
	srv *httptest.Server
	now func() time.Time

	clientID, clientSecret string
	authStyle              string
	sendPath               *regexp.Regexp
	tokenPath              string
	tokenLife              int

	// script holds the queued answers, FailPhone's codes, the counts and
	// the last body.
	script providertest.Script

	mu         sync.Mutex
	tokenAns   []int // HTTP statuses for the coming token requests; 0 = issue
	tokens     map[string]time.Time
	tokenGate  chan struct{}
	tokenSeen  chan struct{} // closed when a token request reaches the gate
	seenOnce   *sync.Once
	lastHeader http.Header
	accepted   map[string]int // by cid
	acceptTo   map[string]int // by phone_number
	taken      []*Message     // in the order taken
	byUID      map[string]*Message
	uidSeq     int
	// result polling (results.go)
	resultsBatch int
	groupSeq     int
	groups       map[string][]string // uids by report_group_no handed out
	completed    map[string]bool     // by uid
	completeFail []string
	polling      bool            // WithPollingContract
	unpolled     map[string]bool // by uid: ForgetResult
	details      atomic.Int64    // detail requests

	tokenRequests atomic.Int64
}

// Message is a message the fake holds, as its search and detail APIs
// list it.
type Message struct {
	UID          string
	CID          string
	MessageType  string
	PhoneNumber  string
	TemplateCode string
	Text         string
	ClientID     string
	// At is when the fake registered it (reg_date, in KST).
	At time.Time
	// Status is the status_code the query APIs answer ("API_200").
	Status string
	// SMSType (SM, LM) and SMSStatus are the SMS/LMS fallback's type and
	// sms_status_code, when one went: the detail API lists both, polling
	// the code ("-100", no fallback, when SMSStatus is empty).
	SMSType, SMSStatus string
}

// Query API paths (Bizmessage API reference: result search and detail).
const (
	SearchPath = "/v2/info/message/search"
	DetailPath = "/v2/info/message/search/detail/"
)

// MaxSearchSize is the largest page the search API serves (size).
const MaxSearchSize = 1000

var kst = time.FixedZone("KST", 9*60*60)

var _ providertest.LookupFake = (*Fake)(nil)

// New starts a fake that reports request breaches to tb and stops when
// tb's test ends.
func New(tb testing.TB, opts ...Option) *Fake {
	tb.Helper()
	f := &Fake{tb: tb, now: time.Now, clientID: ClientID, clientSecret: ClientSecret,
		authStyle: AuthKakao, tokenPath: "/v2/oauth/token",
		sendPath: regexp.MustCompile(`^/v2/send/kakao$`), tokenLife: 21600,
		tokens: map[string]time.Time{}, accepted: map[string]int{}, acceptTo: map[string]int{}, byUID: map[string]*Message{},
		resultsBatch: 1000, groups: map[string][]string{}, completed: map[string]bool{}, unpolled: map[string]bool{}}
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
// queue empty, requests succeed (but for FailPhone). Answer.Codes[0] is
// the Kakao code ("510") of the request's one message. An answer's
// LookupStatus is queued apart, for the coming query (search or detail)
// request; an answer that says nothing else queues no send answer
// (providertest.Script.Next).
func (f *Fake) Next(answers ...providertest.Answer) { f.script.Next(answers...) }

// Lookups counts query requests (search, detail and result polling) that
// reached the fake, whatever their answer.
func (f *Fake) Lookups() int { return f.script.Lookups() }

// Details counts detail requests that reached the fake, whatever their
// answer.
func (f *Fake) Details() int { return int(f.details.Load()) }

// Taken returns the messages the fake holds, in the order taken.
func (f *Fake) Taken() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Message, len(f.taken))
	for i, m := range f.taken {
		out[i] = *m
	}
	return out
}

// Record adds a message to those the query APIs list, as if it had been
// taken by another sender of the account; it does not count as Accepted.
// A missing UID, At or Status is filled in (a new uid, now, API_200).
// Record returns the message's uid.
func (f *Fake) Record(m Message) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recordLocked(m)
}

func (f *Fake) recordLocked(m Message) string {
	if m.At.IsZero() {
		m.At = f.now()
	}
	if m.UID == "" {
		m.UID = f.newUIDLocked(m.At)
	}
	if m.Status == "" {
		m.Status = "API_200"
	}
	if _, dup := f.byUID[m.UID]; dup {
		f.tb.Errorf("kakaofake: Record of uid %q twice", m.UID)
	}
	p := &m
	f.taken = append(f.taken, p)
	f.byUID[m.UID] = p
	return m.UID
}

// SetStatus changes the status_code the query APIs answer for the message
// with this uid ("API_100" processing, "API_510" failed...).
func (f *Fake) SetStatus(uid, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.byUID[uid]
	if !ok {
		f.tb.Errorf("kakaofake: SetStatus of unknown uid %q", uid)
		return
	}
	m.Status = status
}

// newUIDLocked makes a uid in the form of the API reference's
// ("221018080314511j7usTgzgQDOXvIk": time to the millisecond in KST, then
// 15 characters of the base64 alphabet, '+' and '/' included).
func (f *Fake) newUIDLocked(at time.Time) string {
	f.uidSeq++
	h := sha256.Sum256([]byte(strconv.Itoa(f.uidSeq)))
	k := at.In(kst)
	return k.Format("060102150405") + fmt.Sprintf("%03d", k.Nanosecond()/1e6) + base64.StdEncoding.EncodeToString(h[:])[:15]
}

// FailPhone answers every send to this phone_number (compared as digits,
// as sent: national or international per the adapter's phone_format)
// with Kakao code code ("510", "520"...) until FailPhone(phone, ""). A
// queued Answer that is not a plain success wins over it.
func (f *Fake) FailPhone(phone, code string) { f.script.FailPhone(phone, code) }

// Sends counts send requests that reached the fake, whatever their answer
// (token requests are not sends).
func (f *Fake) Sends() int { return f.script.Sends() }

// TokenRequests counts token requests that reached the fake.
func (f *Fake) TokenRequests() int { return int(f.tokenRequests.Load()) }

// LastBody is the body of the most recent send request.
func (f *Fake) LastBody() []byte { return f.script.LastBody() }

// LastHeader is the header of the most recent send request.
func (f *Fake) LastHeader() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastHeader.Clone()
}

// Accepted counts how many times a message with this cid was taken
// through the send API: answered code 200, 100 or 500, or taken by
// Answer.Hang without an answer.
func (f *Fake) Accepted(cid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted[cid]
}

// AcceptedTo counts how many times a message to this phone_number
// (compared as digits) was taken, as Accepted counts.
func (f *Fake) AcceptedTo(phone string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acceptTo[providertest.Digits(phone)]
}

// NextToken queues HTTP statuses for the coming token requests; 0 issues
// a token.
func (f *Fake) NextToken(statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenAns = append(f.tokenAns, statuses...)
}

// Revoke makes every issued token invalid.
func (f *Fake) Revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

// GateTokens makes token requests wait until the returned func is called;
// seen is closed when the first of them arrives.
func (f *Fake) GateTokens() (release func(), seen <-chan struct{}) {
	g := make(chan struct{})
	f.mu.Lock()
	f.tokenGate = g
	f.tokenSeen = make(chan struct{})
	f.seenOnce = new(sync.Once)
	seen = f.tokenSeen
	f.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(g) }) }, seen
}

// smsBytes counts text the way SMS limits do: ASCII as 1 byte, Hangul and
// every other character as 2.
func smsBytes(s string) int {
	n := 0
	for _, r := range s {
		if r < utf8.RuneSelf {
			n++
		} else {
			n += 2
		}
	}
	return n
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if f.routeResults(w, r) {
		return
	}
	if uid, ok := strings.CutPrefix(r.URL.EscapedPath(), DetailPath); ok {
		if r.Method != http.MethodGet {
			f.tb.Errorf("kakaofake: %s %s, want GET", r.Method, r.URL.Path)
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		f.serveDetail(w, r, uid)
		return
	}
	if r.Method != http.MethodPost {
		f.tb.Errorf("kakaofake: %s %s, want POST", r.Method, r.URL.Path)
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == SearchPath {
		f.serveSearch(w, r)
		return
	}
	if r.URL.Path == f.tokenPath {
		f.serveToken(w, r)
		return
	}
	if r.URL.Path == BrandPath {
		f.serveSend(w, r, "", true)
		return
	}
	if m := f.sendPath.FindStringSubmatch(r.URL.Path); m != nil {
		pathCID := ""
		if len(m) > 1 {
			pathCID = m[1]
		}
		f.serveSend(w, r, pathCID, false)
		return
	}
	f.tb.Errorf("kakaofake: unexpected path %s", r.URL.Path)
	http.NotFound(w, r)
}

func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request) {
	n := f.tokenRequests.Add(1)
	f.mu.Lock()
	gate, seen, seenOnce := f.tokenGate, f.tokenSeen, f.seenOnce
	status := 0
	if len(f.tokenAns) > 0 {
		status, f.tokenAns = f.tokenAns[0], f.tokenAns[1:]
	}
	f.mu.Unlock()
	if gate != nil {
		seenOnce.Do(func() { close(seen) })
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.tb.Errorf("kakaofake token: Content-Type %q", ct)
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" || len(r.PostForm) != 1 {
		f.tb.Errorf("kakaofake token: form %v (%v), want only grant_type=client_credentials", r.PostForm, err)
	}
	want := "Basic " + f.clientID + " " + f.clientSecret
	if f.authStyle == AuthRFC {
		want = "Basic " + base64.StdEncoding.EncodeToString([]byte(f.clientID+":"+f.clientSecret))
	}
	if got := r.Header.Get("Authorization"); got != want {
		f.tb.Errorf("kakaofake token: Authorization %q, want %q", got, want)
		status = http.StatusUnauthorized
	}
	if status != 0 {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"status %d"}`, status)
		return
	}
	tok := "tok-" + strconv.FormatInt(n, 10)
	exp := f.now().Add(time.Duration(f.tokenLife) * time.Second)
	if f.tokenLife == 0 {
		exp = f.now().Add(100 * 365 * 24 * time.Hour)
	}
	f.mu.Lock()
	f.tokens[tok] = exp
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.tokenLife == 0 {
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer"}`, tok)
		return
	}
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":%d}`, tok, f.tokenLife)
}

// wireBody is the send body as the fake knows it; unknown fields are errors.
type wireBody struct {
	MessageType  string     `json:"message_type"`
	SenderKey    string     `json:"sender_key"`
	CID          string     `json:"cid"`
	TemplateCode string     `json:"template_code"`
	PhoneNumber  string     `json:"phone_number"`
	SenderNo     string     `json:"sender_no"`
	Message      string     `json:"message"`
	ClientID     string     `json:"client_id"`
	Title        string     `json:"title"`
	Header       string     `json:"header"`
	Price        *int64     `json:"price"`
	CurrencyType string     `json:"currency_type"`
	AdFlag       string     `json:"ad_flag"`
	Button       []wireLink `json:"button"`
	QuickReply   []wireLink `json:"quick_reply"`
	Item         *struct {
		List    []wirePair `json:"list"`
		Summary *wirePair  `json:"summary"`
	} `json:"item"`
	ItemHighlight *wirePair `json:"item_highlight"`
	Image         *struct {
		URL  string `json:"img_url"`
		Link string `json:"img_link"`
	} `json:"image"`
	FallBackYN    *bool  `json:"fall_back_yn"`
	FallBackType  string `json:"fall_back_message_type"`
	FallBackTitle string `json:"fall_back_title"`
	FallBackMsg   string `json:"fall_back_message"`
	TaxCd1        string `json:"tax_cd1"`
	TaxCd2        string `json:"tax_cd2"`
}

type wireLink struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	URLMobile     string `json:"url_mobile"`
	URLPC         string `json:"url_pc"`
	SchemeAndroid string `json:"scheme_android"`
	SchemeIOS     string `json:"scheme_ios"`
	ChatExtra     string `json:"chat_extra"`
	ChatEvent     string `json:"chat_event"`
}

type wirePair struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

var digitsRE = regexp.MustCompile(`^[0-9]+$`)

// validate reports every documented rule the body breaks.
func validate(b *wireBody, pathCID string) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	chars := func(field, s string, max int) {
		if n := utf8.RuneCountInString(s); n > max {
			bad("%s: %d characters > %d", field, n, max)
		}
	}
	switch b.MessageType {
	case "AT":
		if b.TemplateCode == "" {
			bad("template_code: required for AT")
		}
	case "FT", "FW":
	case "FI":
		if b.Image == nil || b.Image.URL == "" {
			bad("image.img_url: required for FI")
		}
	default:
		bad("message_type: %q", b.MessageType)
	}
	if b.SenderKey == "" {
		bad("sender_key: required")
	}
	chars("sender_key", b.SenderKey, 40)
	chars("template_code", b.TemplateCode, 30)
	if b.CID == "" {
		bad("cid: required")
	}
	if pathCID != "" && pathCID != b.CID {
		bad("cid: path has %q, body %q", pathCID, b.CID)
	}
	if !digitsRE.MatchString(b.PhoneNumber) || len(b.PhoneNumber) > 16 {
		bad("phone_number: %q is not up to 16 digits", b.PhoneNumber)
	}
	if strings.HasPrefix(b.PhoneNumber, "820") {
		bad("phone_number: %q is a country code followed by the national 0", b.PhoneNumber)
	}
	if !digitsRE.MatchString(b.SenderNo) || len(b.SenderNo) > 16 {
		bad("sender_no: %q is not up to 16 digits", b.SenderNo)
	}
	if b.Message == "" {
		bad("message: required")
	}
	max := 1000
	if b.MessageType == "FI" {
		max = 400
	}
	chars("message", b.Message, max)
	chars("title", b.Title, 50)
	chars("header", b.Header, 16)
	chars("tax_cd1", b.TaxCd1, 50)
	chars("tax_cd2", b.TaxCd2, 50)
	if b.FallBackYN == nil {
		bad("fall_back_yn: required")
	} else if *b.FallBackYN {
		switch b.FallBackType {
		case "SM":
			if n := smsBytes(b.FallBackMsg); n > 90 {
				bad("fall_back_message: %d bytes for SM", n)
			}
		case "LM":
		default:
			bad("fall_back_message_type: %q", b.FallBackType)
		}
		if n := smsBytes(b.FallBackMsg); n > 2000 {
			bad("fall_back_message: %d bytes", n)
		}
	}
	if len(b.Button) > 5 {
		bad("button: %d", len(b.Button))
	}
	if len(b.QuickReply) > 10 {
		bad("quick_reply: %d", len(b.QuickReply))
	}
	for i, l := range append(append([]wireLink{}, b.Button...), b.QuickReply...) {
		if l.Name == "" || l.Type == "" {
			bad("link %d: name and type required", i)
		}
	}
	if b.ItemHighlight != nil {
		chars("item_highlight.title", b.ItemHighlight.Title, 30)
		chars("item_highlight.description", b.ItemHighlight.Description, 19)
	}
	if it := b.Item; it != nil {
		if n := len(it.List); n < 2 || n > 10 {
			bad("item.list: %d entries", n)
		}
		for i, p := range it.List {
			chars(fmt.Sprintf("item.list[%d].title", i), p.Title, 6)
			chars(fmt.Sprintf("item.list[%d].description", i), p.Description, 23)
		}
		if s := it.Summary; s != nil {
			chars("item.summary.title", s.Title, 6)
			chars("item.summary.description", s.Description, 14)
		}
	}
	if b.AdFlag != "" && b.AdFlag != "Y" && b.AdFlag != "N" {
		bad("ad_flag: %q", b.AdFlag)
	}
	return errs
}

func (f *Fake) serveSend(w http.ResponseWriter, r *http.Request, pathCID string, brand bool) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		f.script.CountUnreadSend()
		return
	}
	f.mu.Lock()
	_, ans, _ := f.script.SendTurn(raw) // Kakao has no raw answers
	f.lastHeader = r.Header.Clone()
	f.mu.Unlock()

	for h, want := range map[string]string{"Accept": "*/*", "Content-Type": "application/json"} {
		if got := r.Header.Get(h); got != want {
			f.tb.Errorf("kakaofake send: %s %q, want %q", h, got, want)
		}
	}
	body, breaches, err := decodeSend(raw, pathCID, brand)
	if err != nil {
		f.tb.Errorf("kakaofake send: body %s: %v", raw, err)
	}
	for _, e := range breaches {
		f.tb.Errorf("kakaofake send: %s", e)
	}

	writeJSON := func(status int, code, uid, detail string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"code":%q,"uid":%q,"cid":%q,"result":{"detail_code":%q,"detail_message":"fake %s"}}`, code, uid, body.CID, detail, code)
	}
	take := func() string {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.accepted[body.CID]++
		f.acceptTo[providertest.Digits(body.PhoneNumber)]++
		m := Message{CID: body.CID, MessageType: body.MessageType, PhoneNumber: body.PhoneNumber,
			TemplateCode: body.TemplateCode, Text: body.Message, ClientID: body.ClientID}
		if f.polling {
			m.Status = "API_100"
		}
		return f.recordLocked(m)
	}
	// answerCode answers the message with a Kakao code; 100 (processing)
	// and 500 (internal error after acceptance) take it and carry its uid.
	answerCode := func(code string) {
		uid := ""
		if code == "100" || code == "500" {
			uid = take()
		}
		writeJSON(http.StatusOK, code, uid, "ERR"+code)
	}
	tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	exp, known := f.tokens[tok]
	f.mu.Unlock()
	phoneCode, phoneFails := f.script.PhoneCode(body.PhoneNumber)
	if ans.Unauthorized || !hasBearer || !known || !f.now().Before(exp) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(http.StatusUnauthorized, "401", "", "ERR_TOKEN")
		return
	}
	switch {
	case ans.Hang:
		// Taken, and the answer lost.
		take()
		<-r.Context().Done()
		return
	case ans.HangUntaken:
		<-r.Context().Done()
		return
	case ans.Status != 0:
		if ans.RetryAfter != "" {
			w.Header().Set("Retry-After", ans.RetryAfter)
		}
		writeJSON(ans.Status, strconv.Itoa(ans.Status), "", "ERR_HTTP")
		return
	case ans.Malformed:
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>Bad gateway</body></html>")
		return
	case ans.Empty:
		w.WriteHeader(http.StatusOK)
		return
	}
	if code, ok := ans.Codes[0]; ok {
		answerCode(code)
		return
	}
	if phoneFails {
		answerCode(phoneCode)
		return
	}
	if f.polling {
		answerCode("100")
		return
	}
	uid := take()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"code":"200","uid":%q,"cid":%q,"result":{"detail_code":"NRM0000","detail_message":"성공"}}`, uid, body.CID)
}

// lookupGate does what the query APIs share: it counts the request, checks
// the bearer token and serves an injected LookupStatus. It reports whether
// the request may be served.
func (f *Fake) lookupGate(w http.ResponseWriter, r *http.Request) bool {
	status, _ := f.script.LookupTurn() // Kakao has no raw answers
	if got := r.Header.Get("Accept"); got != "*/*" {
		f.tb.Errorf("kakaofake %s: Accept %q, want */*", r.URL.Path, got)
	}
	tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	exp, known := f.tokens[tok]
	f.mu.Unlock()
	if !hasBearer || !known || !f.now().Before(exp) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeQueryError(w, http.StatusUnauthorized, "401", "ERR_TOKEN")
		return false
	}
	if status != 0 {
		writeQueryError(w, status, strconv.Itoa(status), "ERR_HTTP")
		return false
	}
	return true
}

func writeQueryError(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status":%q,"code":%q,"code_detail":{"detail_code":%q,"detail_message":"fake %s"}}`, code, code, detail, code)
}

// searchBody is the search request as the API reference documents it; unknown
// fields are errors.
type searchBody struct {
	StartDate  *string `json:"start_date"`
	EndDate    *string `json:"end_date"`
	ClientID   string  `json:"client_id"`
	Size       *int    `json:"size"`
	LastUID    string  `json:"last_uid"`
	Etc1       string  `json:"etc1"`
	Etc2       string  `json:"etc2"`
	StatusCode string  `json:"status_code"`
}

// wireResult is one entry of the search answer's results, in the API reference's shape.
type wireResult struct {
	UID           string `json:"uid"`
	RegDate       string `json:"reg_date"`
	StatusCode    string `json:"status_code"`
	KkoStatusCode string `json:"kko_status_code"`
	CID           string `json:"cid"`
}

// kkoStatus is the kko_status_code the fake lists for a status.
func kkoStatus(status string) string {
	if status == "API_200" {
		return "0000"
	}
	return ""
}

// parseDate parses a yyyy-mm-dd date as the API reference writes it.
func parseDate(s string) (time.Time, bool) {
	d, err := time.ParseInLocation("2006-01-02", s, kst)
	return d, err == nil && len(s) == 10
}

// serveSearch is POST /v2/info/message/search: the messages registered on
// the KST days from start_date to end_date (today without them), in the
// order taken, size a page, the next page after last_uid.
func (f *Fake) serveSearch(w http.ResponseWriter, r *http.Request) {
	if !f.lookupGate(w, r) {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.tb.Errorf("kakaofake search: Content-Type %q, want application/json", ct)
	}
	var b searchBody
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		f.tb.Errorf("kakaofake search: body: %v", err)
		writeQueryError(w, http.StatusBadRequest, "410", "ERR_BODY")
		return
	}
	var errs []string
	today := f.now().In(kst)
	from := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, kst)
	to := from
	switch {
	case b.StartDate == nil && b.EndDate == nil:
	case b.StartDate == nil || b.EndDate == nil:
		errs = append(errs, "start_date and end_date: one given without the other")
	default:
		var ok1, ok2 bool
		from, ok1 = parseDate(*b.StartDate)
		to, ok2 = parseDate(*b.EndDate)
		if !ok1 || !ok2 {
			errs = append(errs, fmt.Sprintf("start_date %q, end_date %q: want yyyy-mm-dd", *b.StartDate, *b.EndDate))
		} else if to.Before(from) {
			errs = append(errs, fmt.Sprintf("end_date %s before start_date %s", *b.EndDate, *b.StartDate))
		}
	}
	size := MaxSearchSize
	if b.Size != nil {
		size = *b.Size
		if size < 1 || size > MaxSearchSize {
			errs = append(errs, fmt.Sprintf("size %d: want 1 to %d", size, MaxSearchSize))
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			f.tb.Errorf("kakaofake search: %s", e)
		}
		writeQueryError(w, http.StatusOK, "410", "ERR_PARAM")
		return
	}
	end := to.AddDate(0, 0, 1)

	f.mu.Lock()
	var match []Message
	for _, m := range f.taken {
		at := m.At.In(kst)
		if at.Before(from) || !at.Before(end) ||
			(b.ClientID != "" && m.ClientID != b.ClientID) || (b.StatusCode != "" && m.Status != b.StatusCode) {
			continue
		}
		match = append(match, *m)
	}
	f.mu.Unlock()
	if b.LastUID != "" {
		i := 0
		for i < len(match) && match[i].UID != b.LastUID {
			i++
		}
		if i == len(match) {
			f.tb.Errorf("kakaofake search: last_uid %q is not a listed message", b.LastUID)
		} else {
			match = match[i+1:]
		}
	}
	next := len(match) > size
	if next {
		match = match[:size]
	}
	ans := struct {
		Status     string       `json:"status"`
		Code       string       `json:"code"`
		Count      int          `json:"count"`
		Next       bool         `json:"next"`
		LastUID    string       `json:"last_uid,omitempty"`
		CodeDetail any          `json:"code_detail"`
		Results    []wireResult `json:"results"`
	}{Status: "200", Code: "200", Count: len(match), Next: next,
		CodeDetail: map[string]string{"detail_code": "NRM00000", "detail_message": "성공"}, Results: []wireResult{}}
	for _, m := range match {
		ans.Results = append(ans.Results, wireResult{UID: m.UID, RegDate: m.At.In(kst).Format("2006-01-02T15:04:05"),
			StatusCode: m.Status, KkoStatusCode: kkoStatus(m.Status), CID: m.CID})
	}
	if len(match) > 0 {
		ans.LastUID = match[len(match)-1].UID
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ans)
}

// serveDetail is GET /v2/info/message/search/detail/{uid}. The API reference does
// not say how an unknown uid is answered; the fake answers HTTP 404 with
// code 410.
func (f *Fake) serveDetail(w http.ResponseWriter, r *http.Request, escaped string) {
	f.details.Add(1)
	if !f.lookupGate(w, r) {
		return
	}
	uid, err := url.PathUnescape(escaped)
	if err == nil && strings.Contains(escaped, "/") {
		// A uid may hold '/' (the base64 alphabet): unescaped, it splits
		// the path and reaches another route.
		err = fmt.Errorf("more than one path segment")
	}
	if err != nil || uid == "" {
		f.tb.Errorf("kakaofake detail: uid %q in the path: %v", escaped, err)
		writeQueryError(w, http.StatusBadRequest, "410", "ERR_UID")
		return
	}
	f.mu.Lock()
	p, ok := f.byUID[uid]
	var m Message
	if ok {
		m = *p
	}
	f.mu.Unlock()
	if !ok {
		writeQueryError(w, http.StatusNotFound, "410", "ERR_NOT_FOUND")
		return
	}
	reg := m.At.In(kst).Format("2006-01-02T15:04:05")
	res := map[string]string{
		"uid": m.UID, "reg_date": reg, "message_type": m.MessageType, "status_code": m.Status,
		"phone_number": m.PhoneNumber, "template_code": m.TemplateCode, "req_date": reg, "req_sms_yn": "N",
		"kko_status_code": kkoStatus(m.Status), "message": m.Text, "cid": m.CID,
	}
	if m.SMSStatus != "" {
		res["req_sms_yn"], res["sms_type"], res["sms_status_code"] = "Y", m.SMSType, m.SMSStatus
	}
	ans := map[string]any{
		"code":        "200",
		"code_detail": map[string]string{"detail_code": "NRM00000", "detail_message": "성공"},
		"result":      res,
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ans)
}
