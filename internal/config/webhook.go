package config

import (
	"fmt"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// Webhook is the listener of pushed delivery reports (NHN's result-update
// webhook), off by default. It is its own listener, apart from the health
// and metrics one, so that only it need be reachable from the provider.
// The accounts whose reports are pushed are those with a
// webhook_signature credential; each is served on /hooks/<account>.
type Webhook struct {
	// Addr to listen on; empty (the default) turns pushed reports off.
	Addr string `yaml:"addr"`
	// MaxBodyBytes is the largest webhook body accepted (default 1 MiB);
	// a larger one is answered 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// HookPathPrefix is where an account's webhook is served:
// HookPathPrefix + account name.
const HookPathPrefix = "/hooks/"

const defaultHookBodyBytes = 1 << 20

// BodyLimit is MaxBodyBytes, or its default when unset.
func (h Webhook) BodyLimit() int64 {
	if h.MaxBodyBytes == 0 {
		return defaultHookBodyBytes
	}
	return h.MaxBodyBytes
}

// validate checks the listener and that it is on exactly when an account
// has a webhook signature.
func (h Webhook) validate(accounts []Account) error {
	if h.MaxBodyBytes != 0 && (h.MaxBodyBytes < 1024 || h.MaxBodyBytes > 16<<20) {
		return fmt.Errorf("webhook.max_body_bytes: %d is out of range 1024..%d", h.MaxBodyBytes, 16<<20)
	}
	signed := 0
	for _, a := range accounts {
		if _, ok := a.Credentials[providers.WebhookSignatureCredential]; !ok {
			continue
		}
		signed++
		if h.Addr == "" {
			return fmt.Errorf("accounts.%s.credentials.%s: set, but webhook.addr is empty: nothing would receive the hooks", a.Name, providers.WebhookSignatureCredential)
		}
	}
	if h.Addr == "" {
		return nil
	}
	if err := checkAddr(h.Addr); err != nil {
		return fmt.Errorf("webhook.addr: %w", err)
	}
	if signed == 0 {
		return fmt.Errorf("webhook.addr: set, but no account has a %s credential", providers.WebhookSignatureCredential)
	}
	return nil
}
