package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The webhook listener is on exactly when an account has a webhook
// signature, and its settings are checked.
func TestWebhookConfig(t *testing.T) {
	signed := "accounts:\n  - name: n\n    provider: nhn\n    credentials: {webhook_signature: {value: s}}\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"signed, listening", signed + "webhook: {addr: ':8090'}\n", ""},
		{"signed, not listening", signed, "accounts.n.credentials.webhook_signature"},
		{"listening, nothing signed", "webhook: {addr: ':8090'}\n", "webhook.addr"},
		{"bad address", signed + "webhook: {addr: 'nope'}\n", "webhook.addr"},
		{"body limit", signed + "webhook: {addr: ':8090', max_body_bytes: 10}\n", "webhook.max_body_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if err == nil {
				err = cfg.Validate()
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error = %v, want one naming %q", err, tc.want)
			}
		})
	}
	if got := (Webhook{}).BodyLimit(); got != 1<<20 {
		t.Errorf("default body limit %d", got)
	}
}
