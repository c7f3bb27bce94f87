// Package nhn is the provider adapter for NHN Cloud KakaoTalk Bizmessage:
// AlimTalk v2.3 (/messages with template variables, /raw-messages with the
// full text), Brand Message v1.0 (/freestyle-messages, /basic-messages) and
// FriendTalk v1.5 (FriendTalk v1.5 API guide) bridged to Brand Message by
// the X-Convert-To-Brand-Message header. See docs/providers/nhn.md.
package nhn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Name is the provider's name in config and errors.
const Name = "nhn"

// MaxRecipients is NHN's recipientList limit for one send request.
const MaxRecipients = 1000

// maxResponse bounds what is read of an answer: 1000 sendResults fit in
// well under 1 MiB.
const maxResponse = 4 << 20

// Client sends through one NHN account. It is safe for concurrent use.
type Client struct {
	account string
	// appKey is the account's app key, which pushed hooks must name.
	appKey    string
	secretKey string
	http      *http.Client
	ep        endpoints
	// apis holds the send API of each message kind (see sendAPI).
	apis map[job.Kind]sendAPI
	// now is the clock of Check (reservations, ad night), Retry-After
	// dates and Resolve (lookup windows, notFoundAfter).
	now func() time.Time
	// notFoundAfter is the account's not_found_after (Config.NotFoundAfter).
	notFoundAfter time.Duration
	// pageSize is the pageSize of list requests: MaxListPageSize; tests
	// lower it to exercise paging.
	pageSize int
}

var _ providers.Provider = (*Client)(nil)

var _ providers.Factory = New

// New builds a Client from an account's spec: options into Config (over
// DefaultConfig), the secret_key credential, the base URL.
func New(spec providers.Spec) (providers.Provider, error) {
	cfg := DefaultConfig()
	if spec.DecodeOptions != nil {
		if err := spec.DecodeOptions(&cfg); err != nil {
			return nil, fmt.Errorf("nhn: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("nhn: accounts.%s.options.%w", spec.Account, err)
	}
	secret, err := spec.Credential(SecretKeyCredential)
	if err != nil {
		return nil, fmt.Errorf("nhn: %w", err)
	}
	ep, err := newEndpoints(spec.BaseURL, cfg)
	if err != nil {
		return nil, fmt.Errorf("nhn: accounts.%s.%w", spec.Account, err)
	}
	hc := spec.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	c := &Client{account: spec.Account, appKey: cfg.AppKey, secretKey: secret, http: hc, ep: ep, now: time.Now, pageSize: MaxListPageSize,
		notFoundAfter: cfg.NotFoundAfter}
	if spec.Now != nil {
		c.now = spec.Now
	}
	c.apis = map[job.Kind]sendAPI{
		job.AlimTalk:     alimTalkAPI{ep: &c.ep},
		job.FriendTalk:   friendTalkAPI{ep: &c.ep, convertBrand: cfg.ConvertToBrandMessage},
		job.BrandMessage: brandAPI{ep: &c.ep},
	}
	return c, nil
}

// MaxBatch implements providers.Provider: NHN takes 1000 recipients a request.
func (c *Client) MaxBatch() int { return MaxRecipients }

// Send implements providers.Provider: one POST for the batch, one Outcome
// per message from sendResults, or a *providers.Error for the whole batch.
func (c *Client) Send(ctx context.Context, b *providers.Batch) ([]providers.Outcome, error) {
	req, sent, err := c.newRequest(ctx, b)
	if err != nil {
		return nil, err
	}
	traced, written := providers.TraceWrite(req.Context())
	req = req.WithContext(traced)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, providers.TransportError(Name, err, written())
	}
	defer resp.Body.Close()
	body, release, readErr := providers.ReadAnswer(resp.Body, maxResponse)
	defer release() // what is kept of body is copied (parseResponse)
	if readErr != nil {
		// NHN answered; the body broke off. On a 2xx the request may have
		// been taken.
		if resp.StatusCode/100 == 2 {
			return nil, c.unknown(ctx, resp.StatusCode, readErr)
		}
		body = nil
	}
	return c.answer(resp, body, sent)
}

// newRequest builds the HTTP request of b, or a Permanent error when b
// cannot be sent as it is (no request is made).
func (c *Client) newRequest(ctx context.Context, b *providers.Batch) (*http.Request, []sentRecipient, error) {
	invalid := func(format string, args ...any) error {
		return &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob,
			Message: fmt.Sprintf(format, args...)}
	}
	switch n := len(b.Messages); {
	case n == 0:
		return nil, nil, invalid("empty batch")
	case n > MaxRecipients:
		return nil, nil, invalid("batch of %d messages exceeds NHN's %d recipients a request", n, MaxRecipients)
	}
	if b.Key.Sender == "" {
		return nil, nil, invalid("no sender: set the job's sender or the account's default sender")
	}
	api, ok := c.apis[b.Key.Kind]
	if !ok {
		return nil, nil, invalid("kind %q is not supported by NHN", b.Key.Kind)
	}
	sent := make([]sentRecipient, len(b.Messages))
	for i, m := range b.Messages {
		if m.Job == nil || m.Recipient == nil {
			return nil, nil, invalid("message %d has no job or recipient", i)
		}
		if m.Job.Kind != b.Key.Kind {
			return nil, nil, invalid("message %d is %s in a %s batch", i, m.Job.Kind, b.Key.Kind)
		}
		sent[i].no = m.Recipient.Digits()
	}
	setRecipientKeys(b, sent)
	data, err := api.body(b, sent)
	if err != nil {
		return nil, nil, invalid("%v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.url(b.Key), bytes.NewReader(data))
	if err != nil {
		return nil, nil, invalid("build request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Secret-Key", c.secretKey)
	req.Header.Set("X-NC-API-IDEMPOTENCY-KEY", IdempotencyKey(b))
	api.header(req.Header)
	return req, sent, nil
}

func (c *Client) unknown(ctx context.Context, status int, err error) error {
	reason := result.ReasonOutcomeUnknown
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
		reason = result.ReasonTimeout
	}
	return &providers.Error{Provider: Name, Class: providers.Unknown, Reason: reason, HTTPStatus: status,
		Message: "request written, no complete answer: NHN may have taken it", Err: err}
}

// answer classifies a response NHN (or a gateway before it) sent.
func (c *Client) answer(resp *http.Response, body []byte, sent []sentRecipient) ([]providers.Outcome, error) {
	status := resp.StatusCode
	parsed, perr := parseResponse(body, len(sent))
	switch {
	case status == http.StatusTooManyRequests:
		return nil, c.httpError(resp, parsed, providers.Retryable, result.ReasonRateLimited)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return nil, c.httpError(resp, parsed, providers.Permanent, result.ReasonAuth)
	case status == http.StatusServiceUnavailable || status == http.StatusRequestTimeout:
		// 503: the service (or the gateway before it) refused the request
		// without handing it on. 408: the server gave up waiting for the
		// request before it had all of it. Neither took the messages.
		return nil, c.httpError(resp, parsed, providers.Retryable, result.ReasonProviderUnavailable)
	case status >= 500:
		// 500, 502, 504 and the rest of 5xx come after the whole request
		// was written and may follow acceptance: a gateway timing out (504)
		// or losing the answer (502) of a backend that took the messages,
		// a backend failing (500) after it stored them. Unknown, so that the
		// worker looks the messages up (Resolve) before it would send them
		// again. NHN's -9999 in such a body does not change that: the HTTP
		// failure says the answer itself is not to be trusted.
		return nil, c.httpError(resp, parsed, providers.Unknown, result.ReasonOutcomeUnknown)
	case status/100 != 2:
		// Any other 4xx: NHN's header code says why when there is one.
		if perr == nil && !parsed.Header.IsSuccessful {
			e := headerError(parsed)
			e.HTTPStatus = status
			return nil, e
		}
		return nil, c.httpError(resp, parsed, providers.Permanent, result.ReasonProviderRejected)
	}
	if perr != nil {
		return nil, &providers.Error{Provider: Name, Class: providers.Unknown, Reason: result.ReasonOutcomeUnknown,
			HTTPStatus: status, Message: "unreadable answer to a delivered request", Err: perr}
	}
	return outcomes(parsed, sent)
}

// httpError is a whole-request error decided by the HTTP status, with
// NHN's header code and message when the body has them.
func (c *Client) httpError(resp *http.Response, parsed *sendResponse, class providers.Class, reason result.Reason) *providers.Error {
	e := &providers.Error{Provider: Name, Class: class, Reason: reason, HTTPStatus: resp.StatusCode,
		Message: http.StatusText(resp.StatusCode)}
	if parsed != nil && parsed.Header != nil {
		o := apiOutcome(parsed.Header.ResultCode, parsed.Header.ResultMessage)
		e.Code, e.CodeName, e.Message = o.Code, o.CodeName, o.Message
	}
	if class == providers.Retryable {
		e.RetryAfter = providers.RetryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	return e
}
