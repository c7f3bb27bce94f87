package naver

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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// Test credentials and service of the fake.
const (
	testAccessKey = "TestAccessKey"
	testSecretKey = "TestSecretKey"
	testServiceID = "ncp:kkobizmsg:kr:123456789012:talkrelay"
)

// fakeAnswer is a providertest.Answer, or a raw answer for cases the suite
// has no words for (a count mismatch, an odd body).
type fakeAnswer struct {
	providertest.Answer
	raw     bool
	status  int
	body    string
	headers map[string]string
}

// fake is NAVER's AlimTalk send API as the seed documents it. It checks
// every request as strictly as the gateway and SENS do and fails the test
// on any breach. It is written from the seed, not from the adapter: its
// request types and signature code are its own.
type fake struct {
	t   *testing.T
	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	queue    []fakeAnswer
	sends    int
	lastBody []byte
}

var _ providertest.Fake = (*fake)(nil)

func newFake(t *testing.T) *fake {
	f := &fake{t: t, now: time.Now}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) URL() string { return f.srv.URL }

func (f *fake) Next(answers ...providertest.Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range answers {
		f.queue = append(f.queue, fakeAnswer{Answer: a})
	}
}

func (f *fake) nextRaw(status int, body string, headers map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, fakeAnswer{raw: true, status: status, body: body, headers: headers})
}

func (f *fake) Sends() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends
}

func (f *fake) LastBody() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.lastBody)
}

// Request types of the fake: unknown fields are refused.
type fakeRequest struct {
	PlusFriendID    *string       `json:"plusFriendId"`
	TemplateCode    *string       `json:"templateCode"`
	Messages        []fakeMessage `json:"messages"`
	ReserveTime     *string       `json:"reserveTime"`
	ReserveTimeZone *string       `json:"reserveTimeZone"`
}

type fakePair struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
}

type fakeMessage struct {
	CountryCode   *string   `json:"countryCode"`
	To            *string   `json:"to"`
	Title         *string   `json:"title"`
	Content       *string   `json:"content"`
	HeaderContent *string   `json:"headerContent"`
	ItemHighlight *fakePair `json:"itemHighlight"`
	Item          *struct {
		List    []fakePair `json:"list"`
		Summary *fakePair  `json:"summary"`
	} `json:"item"`
	Summary *fakePair `json:"summary"`
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

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	wantPath := "/alimtalk/v2/services/" + testServiceID + "/messages"
	if r.Method != http.MethodPost || r.RequestURI != wantPath {
		t.Errorf("fake: %s %s, want POST %s (service id unescaped)", r.Method, r.RequestURI, wantPath)
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("fake: read body: %v", err)
		return
	}
	f.mu.Lock()
	f.sends++
	f.lastBody = body
	var a fakeAnswer
	if len(f.queue) > 0 {
		a, f.queue = f.queue[0], f.queue[1:]
	}
	f.mu.Unlock()

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
		t.Errorf("fake: Content-Type %q, want application/json", r.Header.Get("Content-Type"))
	}
	req, n := f.validate(body)

	switch {
	case a.raw:
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
		return
	case a.Hang:
		<-r.Context().Done()
		return
	case a.Status == 429:
		if a.RetryAfter != "" {
			w.Header().Set("Retry-After", a.RetryAfter)
		}
		writeGatewayError(w, 429, "420", "Rate Limited", "")
		return
	case a.Status == 503:
		writeGatewayError(w, 503, "500", "Endpoint Error", "")
		return
	case a.Status == 504:
		writeGatewayError(w, 504, "510", "Endpoint Timeout", "")
		return
	case a.Status >= 500:
		writeJSON(w, a.Status, map[string]any{"status": a.Status, "error": http.StatusText(a.Status), "message": "internal error"})
		return
	case a.Status != 0:
		writeJSON(w, a.Status, map[string]any{"status": a.Status, "errors": []string{"messages[0].to: invalid"}, "errorMessage": http.StatusText(a.Status)})
		return
	case a.Malformed:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(202)
		io.WriteString(w, `<html>gateway</html>`)
		return
	case a.Empty:
		w.WriteHeader(202)
		return
	}
	if req == nil {
		writeJSON(w, 400, map[string]any{"status": 400, "errors": []string{"invalid body"}, "errorMessage": "Bad Request"})
		return
	}
	out := map[string]any{
		"requestId":   "RQ-" + strconv.Itoa(f.Sends()),
		"requestTime": f.now().In(time.FixedZone("KST", 9*3600)).Format("2006-01-02T15:04:05.000"),
		"statusCode":  "202",
		"statusName":  "success",
	}
	if req.ReserveTime != nil {
		out["statusName"] = "reserved"
	}
	msgs := make([]map[string]any, n)
	for i, m := range req.Messages {
		code, name, desc := "A000", "success", "success"
		if c, ok := a.Codes[i]; ok {
			code, name, desc = c, "fail", "fake failure "+c
		}
		msgs[i] = map[string]any{
			"messageId": fmt.Sprintf("MSG-%d-%d", f.Sends(), i), "countryCode": deref(m.CountryCode, "82"),
			"to": deref(m.To, ""), "content": deref(m.Content, ""),
			"requestStatusCode": code, "requestStatusName": name, "requestStatusDesc": desc,
			"useSmsFailover": m.UseSmsFailover != nil && *m.UseSmsFailover,
		}
	}
	out["messages"] = msgs
	writeJSON(w, 202, out)
}

// authorized checks signature v2 with the secret and the timestamp's
// freshness (the gateway allows 5 minutes of skew).
func (f *fake) authorized(r *http.Request) bool {
	t := f.t
	ts := r.Header.Get("x-ncp-apigw-timestamp")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		t.Errorf("fake: timestamp %q is not milliseconds", ts)
		return false
	}
	if d := f.now().Sub(time.UnixMilli(ms)); d > 5*time.Minute || d < -5*time.Minute {
		t.Errorf("fake: timestamp %s off by %s", ts, d)
		return false
	}
	if ak := r.Header.Get("x-ncp-iam-access-key"); ak != testAccessKey {
		t.Errorf("fake: access key %q", ak)
		return false
	}
	mac := hmac.New(sha256.New, []byte(testSecretKey))
	fmt.Fprintf(mac, "%s %s\n%s\n%s", r.Method, r.RequestURI, ts, testAccessKey)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := r.Header.Get("x-ncp-apigw-signature-v2"); got != want {
		t.Errorf("fake: signature %q, want %q", got, want)
		return false
	}
	return true
}

// validate checks the body against the seed and returns it with its
// message count; nil when it does not decode.
func (f *fake) validate(body []byte) (*fakeRequest, int) {
	t := f.t
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req fakeRequest
	if err := dec.Decode(&req); err != nil {
		t.Errorf("fake: body does not decode: %v\n%s", err, body)
		return nil, 0
	}
	errf := func(format string, args ...any) { t.Errorf("fake: "+format, args...) }
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
	needPair := func(field string, p *fakePair, tmax, dmax int) {
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
	return &req, len(req.Messages)
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
