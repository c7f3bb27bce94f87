// Package kakaofake serves the Kakao Enterprise Bizmessage API (OAuth
// client-credentials token endpoint and the send API) on httptest, as
// Kakao's documents describe it, for tests of the kakao adapter and of
// anything that sends through it (the worker end to end).
//
// The fake is written from the documents, not from the adapter: its
// request types are its own. It checks every request (token form and
// Basic auth in either style, bearer token validity and expiry, unknown
// fields, mandatory fields, lengths, fallback rules) and reports each
// breach to the test with Errorf. Failures are injected with
// providertest.Answer (Next; Codes[0] is the per-message code, the API
// sending one message per request), per phone number (FailPhone), and on
// the token endpoint (NextToken, Revoke, GateTokens).
package kakaofake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
// body's cid (the operator variant `^/v2/request/([0-9a-f]{32})/kakao$`).
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

	mu         sync.Mutex
	answers    []providertest.Answer
	phoneCode  map[string]string // phone_number -> code
	tokenAns   []int             // HTTP statuses for the coming token requests; 0 = issue
	tokens     map[string]time.Time
	tokenGate  chan struct{}
	tokenSeen  chan struct{} // closed when a token request reaches the gate
	seenOnce   *sync.Once
	lastBody   []byte
	lastHeader http.Header
	accepted   map[string]int // by cid
	acceptTo   map[string]int // by phone_number

	tokenRequests atomic.Int64
	sends         atomic.Int64
}

var _ providertest.Fake = (*Fake)(nil)

// New starts a fake that reports request breaches to tb and stops when
// tb's test ends.
func New(tb testing.TB, opts ...Option) *Fake {
	tb.Helper()
	f := &Fake{tb: tb, now: time.Now, clientID: ClientID, clientSecret: ClientSecret,
		authStyle: AuthKakao, tokenPath: "/v2/oauth/token",
		sendPath: regexp.MustCompile(`^/v2/send/kakao$`), tokenLife: 21600,
		phoneCode: map[string]string{}, tokens: map[string]time.Time{},
		accepted: map[string]int{}, acceptTo: map[string]int{}}
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
// the Kakao code ("510") of the request's one message.
func (f *Fake) Next(answers ...providertest.Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, answers...)
}

// FailPhone answers every send to this phone_number (compared as digits,
// as sent: national or international per the adapter's phone_format)
// with Kakao code code ("510", "520"...) until FailPhone(phone, ""). A
// queued Answer that is not a plain success wins over it.
func (f *Fake) FailPhone(phone, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code == "" {
		delete(f.phoneCode, digits(phone))
		return
	}
	f.phoneCode[digits(phone)] = code
}

// Sends counts send requests that reached the fake, whatever their answer
// (token requests are not sends).
func (f *Fake) Sends() int { return int(f.sends.Load()) }

// TokenRequests counts token requests that reached the fake.
func (f *Fake) TokenRequests() int { return int(f.tokenRequests.Load()) }

// LastBody is the body of the most recent send request.
func (f *Fake) LastBody() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.lastBody)
}

// LastHeader is the header of the most recent send request.
func (f *Fake) LastHeader() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastHeader.Clone()
}

// Accepted counts how many times a message with this cid was answered
// with code 200.
func (f *Fake) Accepted(cid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted[cid]
}

// AcceptedTo counts how many times a message to this phone_number
// (compared as digits) was answered with code 200.
func (f *Fake) AcceptedTo(phone string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acceptTo[digits(phone)]
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

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
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
	if r.Method != http.MethodPost {
		f.tb.Errorf("kakaofake: %s %s, want POST", r.Method, r.URL.Path)
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == f.tokenPath {
		f.serveToken(w, r)
		return
	}
	if m := f.sendPath.FindStringSubmatch(r.URL.Path); m != nil {
		pathCID := ""
		if len(m) > 1 {
			pathCID = m[1]
		}
		f.serveSend(w, r, pathCID)
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

func (f *Fake) serveSend(w http.ResponseWriter, r *http.Request, pathCID string) {
	n := f.sends.Add(1)
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.lastBody, f.lastHeader = raw, r.Header.Clone()
	var ans providertest.Answer
	if len(f.answers) > 0 {
		ans, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()

	for h, want := range map[string]string{"Accept": "*/*", "Content-Type": "application/json"} {
		if got := r.Header.Get(h); got != want {
			f.tb.Errorf("kakaofake send: %s %q, want %q", h, got, want)
		}
	}
	var body wireBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		f.tb.Errorf("kakaofake send: body %s: %v", raw, err)
	}
	for _, e := range validate(&body, pathCID) {
		f.tb.Errorf("kakaofake send: %s", e)
	}

	writeJSON := func(status int, code, detail string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"code":%q,"uid":"","cid":%q,"result":{"detail_code":%q,"detail_message":"fake %s"}}`, code, body.CID, detail, code)
	}
	tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	exp, known := f.tokens[tok]
	phoneCode, phoneFails := f.phoneCode[digits(body.PhoneNumber)]
	f.mu.Unlock()
	if ans.Unauthorized || !hasBearer || !known || !f.now().Before(exp) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(http.StatusUnauthorized, "401", "ERR_TOKEN")
		return
	}
	switch {
	case ans.Hang:
		<-r.Context().Done()
		return
	case ans.Status != 0:
		if ans.RetryAfter != "" {
			w.Header().Set("Retry-After", ans.RetryAfter)
		}
		writeJSON(ans.Status, strconv.Itoa(ans.Status), "ERR_HTTP")
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
		writeJSON(http.StatusOK, code, "ERR"+code)
		return
	}
	if phoneFails {
		writeJSON(http.StatusOK, phoneCode, "ERR"+phoneCode)
		return
	}
	f.mu.Lock()
	f.accepted[body.CID]++
	f.acceptTo[digits(body.PhoneNumber)]++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"code":"200","uid":"uid-%d","cid":%q,"result":{"detail_code":"NRM0000","detail_message":"성공"}}`, n, body.CID)
}
