// Package kakao is the provider adapter for Kakao Enterprise Bizmessage
// (Kakao i Connect Message): AlimTalk and FriendTalk through
// POST /v2/send/kakao, one recipient a request, with an OAuth 2.0
// client-credentials token.
//
// The API is described in Kakao Enterprise's Bizmessage API reference for
// AlimTalk (Korean); docs/providers/kakao.md is the operator's guide.
package kakao

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Name is the provider's name in accounts[].provider and in errors.
const Name = "kakao"

// Field limits from the API reference (text(n), counted in characters).
const (
	SenderKeyMax    = 40
	TemplateCodeMax = 30
	TaxCodeMax      = 50
	TaxCodesMax     = 2
)

// Button types by kind. AlimTalk: delivery tracking, web link, app link, bot
// keyword, message delivery, add channel, consultation talk, bot transfer.
// FriendTalk goes to channel friends only, so neither delivery tracking nor
// add channel applies. PD (plugin) is not sent: the API reference documents none of
// its fields. Quick links take the types that need no template data.
const (
	alimTalkButtons   = "DS WL AL BK MD AC BC BT"
	friendTalkButtons = "WL AL BK MD BC BT"
	quickReplyTypes   = "WL AL BK MD BC BT"
)

// maxAnswer bounds how much of a send answer is read.
const maxAnswer = 1 << 20

// Client sends through one Kakao Enterprise account. It is safe for
// concurrent use.
type Client struct {
	cfg          Config
	account      string
	baseURL      string
	clientID     string
	clientSecret string
	http         *http.Client
	now          func() time.Time
	tokens       tokenSource
	sends        atomic.Int64
	// reportsPolled: the account's results are polled (Spec.ReportsPolled),
	// which settles 100 (in progress) without a lookup (inProgress).
	reportsPolled bool

	// searchSize and searchPages are SearchPageSize and MaxSearchPages;
	// tests make them small.
	searchSize, searchPages int
}

var _ providers.Provider = (*Client)(nil)

// Option changes how a Client is built.
type Option func(*Client)

// WithClock makes the client read time from now (token expiry, Retry-After
// dates, the ad night rule) instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *Client) { c.now = now }
}

// New builds a client from an account's spec; it is a providers.Factory.
func New(spec providers.Spec) (providers.Provider, error) {
	return NewClient(spec)
}

// NewClient builds a client from an account's spec.
func NewClient(spec providers.Spec, opts ...Option) (*Client, error) {
	cfg := DefaultConfig()
	if spec.DecodeOptions != nil {
		if err := spec.DecodeOptions(&cfg); err != nil {
			return nil, fmt.Errorf("accounts.%s.options: %w", spec.Account, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("accounts.%s.options.%w", spec.Account, err)
	}
	id, err := spec.Credential("client_id")
	if err != nil {
		return nil, err
	}
	secret, err := spec.Credential("client_secret")
	if err != nil {
		return nil, err
	}
	if cfg.AuthStyle == AuthKakao && (strings.ContainsAny(id, " \r\n") || strings.ContainsAny(secret, "\r\n")) {
		return nil, fmt.Errorf("accounts.%s.credentials.client_id: contains a space or line break, which auth_style %q cannot carry", spec.Account, AuthKakao)
	}
	base := "https://" + Hosts[cfg.Host]
	if spec.BaseURL != "" {
		u, err := url.Parse(spec.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("accounts.%s.base_url: %q is not an http(s) URL", spec.Account, spec.BaseURL)
		}
		base = strings.TrimRight(spec.BaseURL, "/")
	}
	c := &Client{cfg: cfg, account: spec.Account, baseURL: base, clientID: id, clientSecret: secret,
		http: spec.HTTPClient, now: time.Now, searchSize: SearchPageSize, searchPages: MaxSearchPages, reportsPolled: spec.ReportsPolled}
	if spec.Now != nil {
		c.now = spec.Now
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	for _, o := range opts {
		o(c)
	}
	c.tokens.c = c
	return c, nil
}

// MaxBatch implements providers.Provider: the API takes one recipient a request.
func (c *Client) MaxBatch() int { return 1 }

// Sends returns how many send requests were made (each 401 retry counts).
func (c *Client) Sends() int64 { return c.sends.Load() }

// Check implements providers.Provider.
func (c *Client) Check(m *providers.Message) error {
	if err := c.check(m); err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	return nil
}

func (c *Client) check(m *providers.Message) error {
	j, r := m.Job, m.Recipient
	at := j.Kind == job.AlimTalk
	if j.Kind == job.BrandMessage {
		return c.checkBrand(m)
	}
	if j.Kind != job.AlimTalk && j.Kind != job.FriendTalk {
		return fmt.Errorf("kind: %q is not sent by this provider", j.Kind)
	}
	if r.Content == "" {
		return fmt.Errorf("content: required; Kakao Enterprise takes the full message text and renders no template variables")
	}
	if j.ReserveAt != nil && j.ReserveAt.After(c.now().Add(time.Minute)) {
		// The worker holds a reserved job until its time (this adapter is
		// not providers.Reserving); a minute of slack for clocks.
		return fmt.Errorf("reserve_at: %s is still ahead; the Kakao Enterprise send API has no reservation field, so a reserved job is sent at its time", j.ReserveAt.UTC().Format(time.RFC3339))
	}
	if utf8.RuneCountInString(j.Sender) > SenderKeyMax {
		return fmt.Errorf("sender: %d characters, a sender_key has at most %d", utf8.RuneCountInString(j.Sender), SenderKeyMax)
	}
	if err := msgcheck.Phone(r); err != nil {
		return err
	}
	if _, err := PhoneNumber(r, c.cfg.PhoneFormat); err != nil {
		return err
	}
	contentMax := msgcheck.ContentMax
	if at {
		if j.Template == "" {
			return fmt.Errorf("template: required for AlimTalk")
		}
		if err := msgcheck.Len("template", j.Template, TemplateCodeMax); err != nil {
			return err
		}
		if j.Ad {
			return fmt.Errorf("ad: AlimTalk carries information only, never advertising; send ads as friendtalk")
		}
		if r.Image != nil {
			return fmt.Errorf("image: an AlimTalk image is part of the approved template; image is for FriendTalk")
		}
		if (r.Price == nil) != (r.Currency == "") {
			return fmt.Errorf("price, currency: set both or neither (price and currency_type describe one amount)")
		}
	} else {
		switch {
		case r.Title != "", r.Header != "", r.Item != nil, r.ItemHighlight != nil:
			return fmt.Errorf("title, header, item, item_highlight: AlimTalk template fields; FriendTalk has none of them")
		case r.Price != nil, r.Currency != "":
			return fmt.Errorf("price, currency: AlimTalk fields; FriendTalk has none")
		}
		if img := r.Image; img != nil {
			if img.URL == "" {
				return fmt.Errorf("image.url: required for a Kakao Enterprise image (image.seq is NHN's uploaded-image number)")
			}
			if err := httpURL("image.url", img.URL); err != nil {
				return err
			}
			if img.Link != "" {
				if err := httpURL("image.link", img.Link); err != nil {
					return err
				}
			}
			contentMax = msgcheck.ContentWithImageMax
		}
		if j.Ad && msgcheck.AdNight(c.now()) {
			return fmt.Errorf("ad: Kakao refuses ad FriendTalk 20:50-08:00 KST (code 3022); send it after 08:00")
		}
	}
	if err := msgcheck.Content(r, contentMax); err != nil {
		return err
	}
	allowed := alimTalkButtons
	if !at {
		allowed = friendTalkButtons
	}
	if err := msgcheck.Buttons("buttons", r.Buttons, allowed, msgcheck.ButtonsMax); err != nil {
		return err
	}
	if err := msgcheck.Buttons("quick_replies", r.QuickReplies, quickReplyTypes, msgcheck.QuickRepliesMax); err != nil {
		return err
	}
	if n := len(r.TaxCodes); n > TaxCodesMax {
		return fmt.Errorf("tax_codes: %d codes, at most %d (tax_cd1, tax_cd2)", n, TaxCodesMax)
	}
	for i, t := range r.TaxCodes {
		if err := msgcheck.Len(fmt.Sprintf("tax_codes[%d]", i), t, TaxCodeMax); err != nil {
			return err
		}
	}
	return c.checkSender(m)
}

// checkSender checks the calling number and the SMS fallback's size.
func (c *Client) checkSender(m *providers.Message) error {
	sender := c.senderNo(m)
	if sender == "" {
		return fmt.Errorf("sender_no: required by Kakao Enterprise even for AlimTalk; set options.sender_no on the account or failover.from on the job")
	}
	if err := checkSenderNo(sender); err != nil {
		return fmt.Errorf("sender_no: %w", err)
	}
	if f := m.Job.EffectiveFailover(m.Recipient); f.On() {
		typ, text := fallback(m, f)
		if text == "" {
			return fmt.Errorf("failover.content: required, the message has no text to fall back to")
		}
		max := LMSMaxBytes
		if typ == FallbackSMS {
			max = SMSMaxBytes
		}
		if n := msgcheck.SMSBytes(text); n > max {
			return fmt.Errorf("failover.content: %d bytes, at most %d for %s (Hangul counts 2)", n, max, typ)
		}
	}
	return nil
}

func httpURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: must be an http:// or https:// URL", field)
	}
	return nil
}

// Send implements providers.Provider: one request for the batch's one message.
func (c *Client) Send(ctx context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	switch n := len(b.Messages); {
	case n == 0:
		return []providers.Outcome{}, nil
	case n > 1:
		return nil, &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob,
			Message: fmt.Sprintf("batch of %d messages; Kakao Enterprise takes 1 a request", n)}
	}
	m := &b.Messages[0]
	if b.Key.Sender == "" {
		return nil, &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob,
			Message: "no sender_key: set the job's sender or the account's default sender"}
	}
	var req any
	sendPath, cid := c.cfg.SendPath, CID(m.Job.ID, m.Index)
	var err error
	if m.Job.Kind == job.BrandMessage {
		sendPath = c.cfg.BrandPath
		req, err = c.buildBrandRequest(m, b.Key.Sender)
	} else {
		req, err = c.buildRequest(m, b.Key.Sender)
	}
	if err != nil {
		return nil, &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidRecipient,
			Message: err.Error()}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(req); err != nil {
		return nil, &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob,
			Message: "encode request", Err: err}
	}
	path := strings.ReplaceAll(sendPath, CIDPlaceholder, url.PathEscape(cid))

	token, err := c.tokens.get(ctx, "")
	if err != nil {
		return nil, err
	}
	o, status, err := c.post(ctx, path, token, buf.Bytes())
	if status == http.StatusUnauthorized {
		// The token expired or was revoked: renew it (once for all senders)
		// and try once more.
		if token, err = c.tokens.get(ctx, token); err != nil {
			return nil, err
		}
		o, _, err = c.post(ctx, path, token, buf.Bytes())
	}
	if err != nil {
		return nil, err
	}
	c.inProgress(m, &o)
	return []providers.Outcome{o}, nil
}

// post makes one send request and reads its answer. It returns the HTTP
// status it got (0 for none) so that Send can renew the token on 401.
func (c *Client) post(ctx context.Context, path, token string, body []byte) (providers.Outcome, int, error) {
	traced, wrote := providers.TraceWrite(ctx)
	req, err := http.NewRequestWithContext(traced, http.MethodPost, c.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return providers.Outcome{}, 0, &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob,
			Message: "build send request", Err: err}
	}
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	c.sends.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return providers.Outcome{}, 0, providers.TransportError(Name, err, wrote())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		// The answer started: Kakao had the whole request.
		return providers.Outcome{}, resp.StatusCode, providers.TransportError(Name, err, true)
	}
	s := resp.StatusCode
	if s >= 200 && s <= 299 {
		o, err := ParseResponse(data)
		if err != nil {
			err.(*providers.Error).HTTPStatus = s
		}
		return o, s, err
	}
	pe := &providers.Error{Provider: Name, HTTPStatus: s}
	var ans sendAnswer
	if json.Unmarshal(data, &ans) == nil {
		pe.Code = jsonString(ans.Code)
		if info, ok := Codes[pe.Code]; ok {
			pe.CodeName = info.Name
		}
		pe.Message = ans.detail()
	}
	switch {
	case s == http.StatusUnauthorized:
		pe.Class, pe.Reason = providers.Permanent, result.ReasonAuth
		if pe.Message == "" {
			pe.Message = "access token refused"
		}
	case s == http.StatusForbidden:
		pe.Class, pe.Reason = providers.Permanent, result.ReasonAuth
	case s == http.StatusTooManyRequests:
		pe.Class, pe.Reason = providers.Retryable, result.ReasonRateLimited
		pe.RetryAfter = providers.RetryAfter(resp.Header.Get("Retry-After"), c.now())
	case s == http.StatusServiceUnavailable:
		// The service says it is not taking requests: the message was not
		// taken, a later attempt may succeed.
		pe.Class, pe.Reason = providers.Retryable, result.ReasonProviderUnavailable
		pe.RetryAfter = providers.RetryAfter(resp.Header.Get("Retry-After"), c.now())
	case s >= 500:
		// 500, 502, 504 and the rest of 5xx come after the whole request
		// was written, and may follow acceptance: a gateway that times out
		// (504) or loses its upstream's answer (502) on a backend that took
		// the message, or Kakao failing after it registered it (500, which
		// Kakao's own code 500 says "retry with care"). A blind resend may
		// deliver twice, so the outcome is unknown and the worker looks the
		// message up (Resolve) before it would send it again.
		pe.Class, pe.Reason = providers.Unknown, result.ReasonOutcomeUnknown
	case s == http.StatusRequestTimeout:
		// The server gave up reading the request: it was not taken.
		pe.Class, pe.Reason = providers.Retryable, result.ReasonProviderUnavailable
	default:
		pe.Class, pe.Reason = providers.Permanent, result.ReasonProviderRejected
	}
	return providers.Outcome{}, s, pe
}
