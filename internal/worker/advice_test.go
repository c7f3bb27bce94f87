package worker_test

import (
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/natstest"
)

// An NHN account's friendtalk jobs depend on NHN's compatibility header,
// which ends about 2026-12-31: the worker warns at start-up.
func TestWarnsAtStartUpOfFriendTalkOnNHN(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	cfg := config.Default()
	cfg.NATS.URL = srv.ClientURL()
	cfg.HTTP.Addr = ""
	cfg.Accounts = []config.Account{providerAccount(t, "shop", "nhn", "http://127.0.0.1:1", "",
		map[string]string{"secret_key": "s"}, map[string]any{"app_key": "abc"})}
	logs := startUpLogs(t, cfg)
	if want := `"level":"warn","message":"accounts.shop: friendtalk jobs reach NHN only through the X-Convert-To-Brand-Message compatibility header`; !strings.Contains(logs, want) {
		t.Errorf("logs lack %s:\n%s", want, logs)
	}
}
