package nhn

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

const (
	testAppKey = "Ab12Cd34Ef56"
	testSecret = "s3cr3t-KEY"
)

// fakeNHN serves NHN's AlimTalk v2.3 and FriendTalk v1.5 send APIs as the
// documents describe them, failing the test on any request that breaks
// them. It implements providertest.Fake.
type fakeNHN struct {
	t    *testing.T
	srv  *httptest.Server
	done chan struct{}

	mu      sync.Mutex
	queue   []providertest.Answer
	sends   int
	last    []byte
	headers []http.Header
	paths   []string
	reqID   int
}

var (
	fakeRoute = regexp.MustCompile(`^/(alimtalk)/v2\.3/appkeys/([^/]+)/(messages|raw-messages)$|^/(friendtalk)/v1\.5/appkeys/([^/]+)/(messages)$`)
	// The adapter's key format: stable, short, header-safe.
	idempotencyKeyRE = regexp.MustCompile(`^tr1-[0-9a-f]{40}$`)
	requestDateRE    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}$`)
	digitsRE         = regexp.MustCompile(`^[0-9]+$`)
)

func newFakeNHN(t *testing.T) *fakeNHN {
	f := &fakeNHN{t: t, done: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.done)
		f.srv.Close()
	})
	return f
}

func (f *fakeNHN) URL() string { return f.srv.URL }

func (f *fakeNHN) Next(answers ...providertest.Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, answers...)
}

func (f *fakeNHN) Sends() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends
}

func (f *fakeNHN) LastBody() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeNHN) requestPaths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

func (f *fakeNHN) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ks []string
	for _, h := range f.headers {
		ks = append(ks, h.Get("X-NC-API-IDEMPOTENCY-KEY"))
	}
	return ks
}

// fake request shapes: pointers tell absent from zero.
type fakeButton struct {
	Ordering      *int    `json:"ordering"`
	Type          string  `json:"type"`
	Name          string  `json:"name"`
	LinkMo        string  `json:"linkMo"`
	LinkPc        string  `json:"linkPc"`
	SchemeIos     string  `json:"schemeIos"`
	SchemeAndroid string  `json:"schemeAndroid"`
	ChatExtra     *string `json:"chatExtra"`
}

type fakeResend struct {
	IsResend            *bool  `json:"isResend"`
	ResendType          string `json:"resendType"`
	ResendTitle         string `json:"resendTitle"`
	ResendContent       string `json:"resendContent"`
	ResendSendNo        string `json:"resendSendNo"`
	ResendUnsubscribeNo string `json:"resendUnsubscribeNo"`
}

type fakeRecipient struct {
	RecipientNo          string            `json:"recipientNo"`
	Content              *string           `json:"content"`
	TemplateParameter    map[string]string `json:"templateParameter"`
	ImageSeq             *int64            `json:"imageSeq"`
	ImageLink            string            `json:"imageLink"`
	Buttons              []fakeButton      `json:"buttons"`
	ResendParameter      *fakeResend       `json:"resendParameter"`
	IsAd                 *bool             `json:"isAd"`
	RecipientGroupingKey string            `json:"recipientGroupingKey"`
}

type fakeRequest struct {
	SenderKey         string          `json:"senderKey"`
	TemplateCode      string          `json:"templateCode"`
	PlusFriendID      string          `json:"plusFriendId"`
	RequestDate       *string         `json:"requestDate"`
	SenderGroupingKey string          `json:"senderGroupingKey"`
	CreateUser        string          `json:"createUser"`
	RecipientList     []fakeRecipient `json:"recipientList"`
}

func (f *fakeNHN) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	m := fakeRoute.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodPost {
		t.Errorf("fake NHN: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	product, appKey, op := m[1]+m[4], m[2]+m[5], m[3]+m[6]
	body, _ := io.ReadAll(r.Body)

	f.mu.Lock()
	f.sends++
	f.last = body
	f.headers = append(f.headers, r.Header.Clone())
	f.paths = append(f.paths, r.URL.Path)
	var a providertest.Answer
	if len(f.queue) > 0 {
		a, f.queue = f.queue[0], f.queue[1:]
	}
	f.reqID++
	reqID := fmt.Sprintf("20260701100000abcDEF%04d", f.reqID)
	f.mu.Unlock()

	if appKey != testAppKey {
		t.Errorf("fake NHN: appkey %q in path, want %q", appKey, testAppKey)
	}
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("fake NHN: Content-Type %q, want application/json;charset=UTF-8", r.Header.Get("Content-Type"))
	}
	if k := r.Header.Get("X-NC-API-IDEMPOTENCY-KEY"); !idempotencyKeyRE.MatchString(k) {
		t.Errorf("fake NHN: X-NC-API-IDEMPOTENCY-KEY %q, want %s", k, idempotencyKeyRE)
	}
	brand := r.Header.Get("X-Convert-To-Brand-Message")
	if product == "friendtalk" && brand != "true" {
		t.Errorf("fake NHN: FriendTalk v1.5 call without X-Convert-To-Brand-Message: true (got %q)", brand)
	}
	if product == "alimtalk" && brand != "" {
		t.Errorf("fake NHN: AlimTalk call with X-Convert-To-Brand-Message %q", brand)
	}
	secretOK := r.Header.Get("X-Secret-Key") == testSecret
	if !secretOK && !a.Unauthorized {
		t.Errorf("fake NHN: X-Secret-Key %q, want the account's secret", r.Header.Get("X-Secret-Key"))
	}

	var req fakeRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		t.Errorf("fake NHN: request body: %v", err)
	} else {
		for _, p := range validateRequest(product, op, &req) {
			t.Errorf("fake NHN: %s %s: %s", product, op, p)
		}
	}

	switch {
	case a.Unauthorized || !secretOK:
		// NHN's documented answer to a bad secret key: a failed header
		// with -1001 (error-code page); HTTP status 200.
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":-1001,"resultMessage":"Invalid secretKey.","isSuccessful":false}}`)
	case a.Status != 0:
		if a.RetryAfter != "" {
			w.Header().Set("Retry-After", a.RetryAfter)
		}
		switch {
		case a.Status == http.StatusTooManyRequests:
			writeJSON(w, a.Status, `{"header":{"resultCode":-9999,"resultMessage":"Too many requests","isSuccessful":false}}`)
		case a.Status == http.StatusInternalServerError:
			writeJSON(w, a.Status, `{"header":{"resultCode":-9999,"resultMessage":"System error","isSuccessful":false}}`)
		default:
			// A gateway in front of NHN: not JSON.
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(a.Status)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", a.Status, http.StatusText(a.Status))
		}
	case a.Hang:
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
	case a.Malformed:
		writeJSON(w, http.StatusOK, `{"header":{"resultCode":0,"resultMessage":"SUCC`)
	case a.Empty:
		w.WriteHeader(http.StatusOK)
	default:
		writeJSON(w, http.StatusOK, successBody(reqID, &req, a.Codes))
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// successBody answers every recipient, with codes[i] for the i-th.
func successBody(reqID string, req *fakeRequest, codes map[int]string) string {
	type result struct {
		RecipientSeq         int    `json:"recipientSeq"`
		RecipientNo          string `json:"recipientNo"`
		ResultCode           int    `json:"resultCode"`
		ResultMessage        string `json:"resultMessage"`
		RecipientGroupingKey string `json:"recipientGroupingKey"`
	}
	var rs []result
	for i, rc := range req.RecipientList {
		res := result{RecipientSeq: i + 1, RecipientNo: rc.RecipientNo, ResultMessage: "SUCCESS", RecipientGroupingKey: rc.RecipientGroupingKey}
		if c, ok := codes[i]; ok {
			n, err := strconv.Atoi(c)
			if err != nil {
				panic("fake NHN: code " + c + " is not an integer")
			}
			res.ResultCode, res.ResultMessage = n, ruleFor(n).name
		}
		rs = append(rs, res)
	}
	out, _ := json.Marshal(map[string]any{
		"header":  map[string]any{"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": true},
		"message": map[string]any{"requestId": reqID, "senderGroupingKey": req.SenderGroupingKey, "sendResults": rs},
	})
	return string(out)
}

// validateRequest lists how req breaks the documented rules of its API.
func validateRequest(product, op string, req *fakeRequest) []string {
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
