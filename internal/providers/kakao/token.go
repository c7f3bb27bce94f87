package kakao

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Token renewal: a token is renewed renewMargin before it expires, where the
// margin is a tenth of its life capped at maxRenewMargin (5 minutes of a 6
// hour token, 6 seconds of a minute-long one), so that a send never starts
// with a token about to lapse. A token answered without expires_in is kept
// until a send is answered 401.
const maxRenewMargin = 5 * time.Minute

// maxTokenBody bounds how much of a token answer is read.
const maxTokenBody = 64 << 10

// tokenSource fetches and caches the OAuth 2.0 client-credentials token. At
// most one fetch is in flight at a time, however many senders need a token:
// the others wait for its result.
type tokenSource struct {
	c *Client

	mu       sync.Mutex
	token    string
	renewAt  time.Time // zero: no expiry known
	inflight *tokenCall

	// waitHook, when set (tests), is called as a sender starts waiting for
	// another sender's fetch.
	waitHook func()
}

type tokenCall struct {
	done  chan struct{}
	token string
	err   error
}

// get returns a valid token. stale is a token the caller saw refused (401):
// if it is still the cached one, a new token is fetched; if another sender
// already replaced it, the replacement is returned.
func (ts *tokenSource) get(ctx context.Context, stale string) (string, error) {
	for {
		ts.mu.Lock()
		if ts.token != "" && ts.token != stale && (ts.renewAt.IsZero() || ts.c.now().Before(ts.renewAt)) {
			tok := ts.token
			ts.mu.Unlock()
			return tok, nil
		}
		call := ts.inflight
		leader := call == nil
		if leader {
			call = &tokenCall{done: make(chan struct{})}
			ts.inflight = call
		}
		ts.mu.Unlock()

		if leader {
			tok, life, err := ts.c.fetchToken(ctx)
			ts.mu.Lock()
			if err == nil {
				ts.token = tok
				ts.renewAt = time.Time{}
				if life > 0 {
					ts.renewAt = ts.c.now().Add(life - min(life/10, maxRenewMargin))
				}
			}
			ts.inflight = nil
			call.token, call.err = tok, err
			ts.mu.Unlock()
			close(call.done)
			return tok, err
		}

		if ts.waitHook != nil {
			ts.waitHook()
		}
		select {
		case <-ctx.Done():
			return "", tokenError(ctx.Err())
		case <-call.done:
		}
		if call.err == nil {
			return call.token, nil
		}
		// The leader's own context ended its fetch; ours is still live, so
		// try again (and lead, if nobody else does).
		if isContextErr(call.err) && ctx.Err() == nil {
			continue
		}
		return "", call.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// tokenError is the error of a token fetch that ended with err before any
// answer: nothing was sent, so the batch is retryable. The context error stays
// reachable with errors.Is for the dispatcher.
func tokenError(err error) *providers.Error {
	return &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
		Message: "token request failed", Err: err}
}

// tokenAnswer is the token endpoint's answer. expires_in is documented as
// seconds; a numeric string is accepted too.
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	TokenType   string          `json:"token_type"`
	Code        json.RawMessage `json:"code"`
	Error       string          `json:"error"`
	ErrorDesc   string          `json:"error_description"`
}

// fetchToken makes one token request. It returns the token and its life (0
// when the answer gave none).
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+c.cfg.TokenPath, strings.NewReader(form))
	if err != nil {
		return "", 0, &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob,
			Message: "build token request", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Authorization", c.basicAuth())
	resp, err := c.http.Do(req)
	if err != nil {
		return "", 0, tokenError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return "", 0, tokenError(err)
	}
	var ans tokenAnswer
	jsonErr := json.Unmarshal(body, &ans)

	fail := func(class providers.Class, reason result.Reason, msg string) error {
		pe := &providers.Error{Provider: Name, Class: class, Reason: reason, HTTPStatus: resp.StatusCode,
			Code: jsonString(ans.Code), Message: "token: " + msg}
		if ans.Error != "" {
			pe.Message += ": " + ans.Error
			if ans.ErrorDesc != "" {
				pe.Message += ": " + ans.ErrorDesc
			}
		}
		return pe
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		pe := fail(providers.Retryable, result.ReasonRateLimited, "rate limited").(*providers.Error)
		pe.RetryAfter = providers.RetryAfter(resp.Header.Get("Retry-After"), c.now())
		return "", 0, pe
	case s == http.StatusBadRequest || s == http.StatusUnauthorized || s == http.StatusForbidden:
		// OAuth 2.0 answers bad client credentials with 400 invalid_client
		// or 401; 403 is a caller not allowed (an IP not registered).
		return "", 0, fail(providers.Permanent, result.ReasonAuth, "credentials refused")
	case s >= 500 || s == http.StatusRequestTimeout:
		return "", 0, fail(providers.Retryable, result.ReasonProviderUnavailable, "server error")
	case s < 200 || s > 299:
		return "", 0, fail(providers.Permanent, result.ReasonAuth, "unexpected status")
	}
	if jsonErr != nil || ans.AccessToken == "" {
		// Some gateways answer 200 with a body code; 400/410 there mean the
		// credentials were refused.
		switch jsonString(ans.Code) {
		case "400", "410":
			return "", 0, fail(providers.Permanent, result.ReasonAuth, "credentials refused")
		}
		return "", 0, fail(providers.Retryable, result.ReasonProviderUnavailable, "answer without access_token")
	}
	secs := jsonString(ans.ExpiresIn)
	var life time.Duration
	if secs != "" {
		n, err := strconv.ParseFloat(secs, 64)
		if err != nil || n < 0 || n > 1e9 {
			return "", 0, fail(providers.Retryable, result.ReasonProviderUnavailable, fmt.Sprintf("expires_in %q is not a number of seconds", secs))
		}
		life = time.Duration(n * float64(time.Second))
	}
	return ans.AccessToken, life, nil
}

// basicAuth is the token request's Authorization header for the auth style.
func (c *Client) basicAuth() string {
	if c.cfg.AuthStyle == AuthRFC {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.clientID+":"+c.clientSecret))
	}
	return "Basic " + c.clientID + " " + c.clientSecret
}

// jsonString returns a JSON string's value, a number's text, or "".
func jsonString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
