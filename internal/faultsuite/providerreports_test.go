package faultsuite

import (
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
)

// TestProviderReportsThroughKills is TestReportsThroughKills on a NAVER
// and a Kakao account, the real adapters against their fakes (NAVER's
// request list, Kakao's result polling and completion): the holders of
// their report leases are SIGKILLed in turn, and every accepted recipient
// still has exactly one report. A third of FAULT_RECIPIENTS, half each.
func TestProviderReportsThroughKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs worker binaries through SIGKILLs")
	}
	p := loadProfile(t)
	naverAPI, kakaoAPI := naverfake.New(t), kakaofake.New(t)
	naverAPI.AddChannel(naverfake.Channel{ChannelID: naverSender})
	naverAPI.AddTemplate(naverfake.Template{ChannelID: naverSender, Code: "ORDER_SHIPPED"})
	reports := map[string]any{"enabled": true, "interval": "50ms", "lease": "2s"}
	secrets := func(kv ...string) map[string]any {
		c := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i]] = map[string]string{"value": kv[i+1]}
		}
		return c
	}
	accounts := []any{
		map[string]any{"name": naverAccount, "provider": "naver", "base_url": naverAPI.URL(), "sender": naverSender,
			"credentials": secrets("access_key", naverfake.AccessKey, "secret_key", naverfake.SecretKey),
			"options":     map[string]any{"service_id": naverfake.ServiceID}, "reports": reports},
		map[string]any{"name": kakaoAccount, "provider": "kakao", "base_url": kakaoAPI.URL(),
			"credentials": secrets("client_id", kakaofake.ClientID, "client_secret", kakaofake.ClientSecret),
			"options":     map[string]any{"sender_no": kakaoSenderNo}, "reports": reports},
	}
	n := p.recipients / 6
	jobs := append(reportJobs("nrep", naverAccount, job.AlimTalk, "", "ORDER_SHIPPED", n),
		reportJobs("krep", kakaoAccount, job.AlimTalk, senderKey, "ORDER_SHIPPED", n)...)
	reportsThroughKills(t, p, accounts, jobs, []string{naverAccount, kakaoAccount}, []string{naverAccount})
}
