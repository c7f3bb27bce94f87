// Package naver sends KakaoTalk AlimTalk through NAVER Cloud SENS
// (NAVER Cloud's SENS AlimTalk API document and its current notes): POST /alimtalk/v2/services/{serviceId}/messages with
// up to 100 messages, signed with API Gateway signature v2.
//
// NAVER has no idempotency key: a send whose answer was lost (timeout
// after the request was written, a 2xx without a readable answer, a 500,
// 502 or 504) is reported as outcome unknown and must be reconciled, never
// resent: Client.Resolve looks such messages up in the request query.
package naver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Name is the provider's name in the worker config and in errors.
const Name = "naver"

// MaxBatch is the most messages one send may carry (SENS AlimTalk API document: 最大100個).
const MaxBatch = 100

// Buttons NAVER's AlimTalk send accepts (SENS AlimTalk API document: テンプレートボタン情報).
const allowedButtons = "DS WL AL BK MD AC"

// maxResponseBytes bounds how much of an answer is read: 100 messages of
// up to 1000 characters echoed back fit many times over.
const maxResponseBytes = 4 << 20

// Client is a NAVER SENS AlimTalk account. It is safe for concurrent use.
type Client struct {
	// Now is the clock for signatures, Retry-After dates and reservation
	// checks; time.Now by default. Set it before the first use.
	Now func() time.Time

	cfg       Config
	loc       *time.Location // reservations
	queryLoc  *time.Location // request query times
	sendURL   string
	resvURL   string // the reservation path; {reserveId} is filled per call
	adminURL  string // the channel and template queries' prefix (admin.go)
	accessKey string
	secretKey string
	hc        *http.Client

	// lookupPageSize is the request query's pageSize; 0 means the most
	// NAVER allows (100). Tests lower it to exercise paging.
	lookupPageSize int
}

var (
	_ providers.Provider = (*Client)(nil)
	_ providers.Resolver = (*Client)(nil)
)

// New builds a client for one account: a providers.Factory.
func New(spec providers.Spec) (providers.Provider, error) {
	cfg := DefaultConfig()
	if err := spec.DecodeOptions(&cfg); err != nil {
		return nil, fmt.Errorf("naver: %w", err)
	}
	ak, err := spec.Credential("access_key")
	if err != nil {
		return nil, fmt.Errorf("naver: %w", err)
	}
	sk, err := spec.Credential("secret_key")
	if err != nil {
		return nil, fmt.Errorf("naver: %w", err)
	}
	c, err := NewClient(cfg, spec.BaseURL, ak, sk, spec.HTTPClient)
	if err != nil {
		// base_url is the account's field; the rest are its options.
		if strings.HasPrefix(err.Error(), "base_url:") {
			return nil, fmt.Errorf("naver: accounts.%s.%w", spec.Account, err)
		}
		return nil, fmt.Errorf("naver: accounts.%s.options: %w", spec.Account, err)
	}
	if spec.Now != nil {
		c.Now = spec.Now
	}
	return c, nil
}

// NewClient builds a client from its config. baseURL overrides the host's
// default when not empty; hc nil means http.DefaultClient's transport.
func NewClient(cfg Config, baseURL, accessKey, secretKey string, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if accessKey == "" || secretKey == "" {
		return nil, errors.New("access_key and secret_key are required")
	}
	base, err := cfg.baseURL(baseURL)
	if err != nil {
		return nil, err
	}
	loc, err := cfg.location()
	if err != nil {
		return nil, fmt.Errorf("reserve_time_zone: %w", err)
	}
	queryLoc, err := loadZone(cfg.LookupTimeZone)
	if err != nil {
		return nil, fmt.Errorf("lookup_time_zone: %w", err)
	}
	var client http.Client
	if hc != nil {
		client = *hc
	}
	// A redirected POST would be replayed as a GET without a fresh
	// signature: never follow, report the 3xx instead.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		Now:       time.Now,
		cfg:       cfg,
		loc:       loc,
		queryLoc:  queryLoc,
		sendURL:   base + strings.ReplaceAll(cfg.SendPath, "{serviceId}", cfg.ServiceID),
		resvURL:   base + strings.ReplaceAll(CancelReservationPath, "{serviceId}", cfg.ServiceID),
		adminURL:  base + strings.ReplaceAll(servicePath, "{serviceId}", cfg.ServiceID),
		accessKey: accessKey,
		secretKey: secretKey,
		hc:        &client,
	}, nil
}

// MaxBatch implements providers.Provider.
func (c *Client) MaxBatch() int { return MaxBatch }

// Check implements providers.Provider with NAVER's rules on top of the
// shared KakaoTalk ones.
func (c *Client) Check(m *providers.Message) error {
	if err := c.check(m); err != nil {
		return fmt.Errorf("naver: %w", err)
	}
	return nil
}

func (c *Client) check(m *providers.Message) error {
	j, r := m.Job, m.Recipient
	switch {
	case j.Kind != job.AlimTalk:
		return fmt.Errorf("kind: %s is not supported: this adapter speaks the SENS AlimTalk API only (FriendTalk is a separate NAVER API)", j.Kind)
	case j.Ad:
		return errors.New("ad: NAVER AlimTalk has no ad flag (ads are FriendTalk, not supported here)")
	case j.Template == "":
		return errors.New("template: required (NAVER templateCode)")
	case r.Content == "" && len(r.Variables) > 0:
		return errors.New("content: required: NAVER needs the full message text; template variables alone are not rendered by NAVER")
	case r.Content == "":
		return errors.New("content: required (NAVER messages[].content)")
	case !utf8.ValidString(r.Content):
		return errors.New("content: not valid UTF-8")
	case len(r.QuickReplies) > 0:
		return errors.New("quick_replies: not supported by NAVER AlimTalk")
	case r.Image != nil:
		return errors.New("image: not supported by NAVER AlimTalk (the template's registered image is sent)")
	case r.Price != nil || r.Currency != "":
		return errors.New("price, currency: not supported by NAVER AlimTalk")
	case len(r.TaxCodes) > 0:
		return errors.New("tax_codes: not supported by NAVER AlimTalk")
	}
	if err := msgcheck.Phone(r); err != nil {
		return err
	}
	// NAVER's request has no image field, so the text limits without an
	// image apply; a template with an image is held to 400 by Kakao (3014).
	if err := msgcheck.Content(r, msgcheck.ContentMax); err != nil {
		return err
	}
	if n := c.cfg.HeaderMaxBytes; n > 0 && len(r.Header) >= n {
		return fmt.Errorf("header: %d bytes, fewer than %d allowed (header_max_bytes)", len(r.Header), n)
	}
	if err := msgcheck.Buttons("buttons", r.Buttons, allowedButtons, msgcheck.ButtonsMax); err != nil {
		return err
	}
	for i, b := range r.Buttons {
		if b.ChatExtra != "" || b.ChatEvent != "" {
			return fmt.Errorf("buttons[%d]: chat_extra and chat_event are not supported by NAVER AlimTalk", i)
		}
	}
	if f := j.EffectiveFailover(r); f != nil {
		if err := checkFailover(f, r.Content); err != nil {
			return err
		}
	}
	k := providers.KeyOf(j, r, "")
	return msgcheck.Reserve(k, c.Now, time.Duration(c.cfg.ReserveHorizonDays)*24*time.Hour)
}

// checkFailover applies the SMS limits (bytes, Hangul as 2): SMS 90, LMS
// 2000. Without a type NAVER picks SMS or LMS from the length.
func checkFailover(f *job.Failover, content string) error {
	if f.UnsubscribeNo != "" {
		return errors.New("failover.unsubscribe_no: not supported by NAVER AlimTalk")
	}
	if !f.On() {
		return nil
	}
	text := f.Content
	if text == "" {
		text = content
	}
	max := 2000
	if f.Type == "SMS" {
		max = 90
	}
	if n := msgcheck.SMSBytes(text); n > max {
		return fmt.Errorf("failover.content: %d bytes, at most %d for %s", n, max, cmpOr(f.Type, "LMS"))
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Send implements providers.Provider.
func (c *Client) Send(ctx context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	switch {
	case len(b.Messages) == 0:
		return nil, c.invalid("empty batch")
	case len(b.Messages) > MaxBatch:
		return nil, c.invalid(fmt.Sprintf("batch of %d messages exceeds NAVER's %d", len(b.Messages), MaxBatch))
	case b.Key.Sender == "":
		return nil, c.invalid("no sender: set the job's sender or the account's sender (NAVER plusFriendId)")
	case b.Key.Template == "":
		return nil, c.invalid("no template (NAVER templateCode)")
	}
	body := c.buildRequest(b)

	traced, wrote := providers.TraceWrite(ctx)
	req, err := http.NewRequestWithContext(traced, http.MethodPost, c.sendURL, bytes.NewReader(body))
	if err != nil {
		return nil, c.invalid(fmt.Sprintf("build request: %v", err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	sign(req, c.Now(), c.accessKey, c.secretKey)

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, providers.TransportError(Name, err, wrote())
	}
	defer resp.Body.Close()
	data, release, readErr := providers.ReadAnswer(resp.Body, maxResponseBytes)
	defer release() // what is kept of data is copied (parseSendResponse, httpError)

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if readErr != nil {
			// The answer was on its way: NAVER took the request.
			return nil, c.unknown(resp.StatusCode, fmt.Errorf("read answer: %w", readErr))
		}
		r, err := parseSendResponse(data, len(b.Messages))
		if err != nil {
			return nil, c.unknown(resp.StatusCode, err)
		}
		out, err := outcomes(r, len(b.Messages))
		if err != nil {
			return nil, c.unknown(resp.StatusCode, err)
		}
		return out, nil
	}
	return nil, c.httpError(resp, data)
}

func (c *Client) invalid(msg string) error {
	return &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob, Message: msg}
}

// unknown is a 2xx whose answer cannot be matched to the messages.
func (c *Client) unknown(status int, err error) error {
	return &providers.Error{Provider: Name, Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
		HTTPStatus: status, Message: "answer unreadable; reconcile with the request query, do not resend", Err: err}
}

// httpError classifies a non-2xx answer by its status.
//
// Among 5xx only 503 says the request was not taken: the API Gateway
// answers it (gateway code 500 Endpoint Error) when it could not hand the
// request to SENS. 500 (SENS failing while it processes the request),
// 502 and 504 (gateway code 510 Endpoint Timeout: SENS did not answer the
// gateway in time) come after the request reached SENS, which may already
// have taken the messages; with no idempotency key a resend could send
// them twice, so they are Unknown and the worker looks them up first
// (Resolve). Any other 5xx is Unknown for the same reason.
func (c *Client) httpError(resp *http.Response, body []byte) error {
	ae := parseErrorBody(body)
	e := &providers.Error{Provider: Name, HTTPStatus: resp.StatusCode, Code: ae.Code, CodeName: ae.Name, Message: ae.Message}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		e.Class, e.Reason = providers.Retryable, result.ReasonRateLimited
		e.RetryAfter = providers.RetryAfter(resp.Header.Get("Retry-After"), c.Now())
	case s == http.StatusServiceUnavailable:
		e.Class, e.Reason = providers.Retryable, result.ReasonProviderUnavailable
	case s >= 500:
		e.Class, e.Reason = providers.Unknown, result.ReasonOutcomeUnknown
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.Class, e.Reason = providers.Permanent, result.ReasonAuth
	case s >= 300 && s < 400:
		e.Class, e.Reason = providers.Permanent, result.ReasonProviderRejected
		e.Message = strings.TrimSpace("redirect to " + resp.Header.Get("Location") + " not followed: check base_url. " + e.Message)
	default: // 400, 404 and the rest: the request itself is wrong.
		e.Class, e.Reason = providers.Permanent, result.ReasonProviderRejected
	}
	return e
}
