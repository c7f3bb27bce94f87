package faultsuite

import (
	"strconv"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
)

// nhnListingLag is how far behind the worker's clock NHN's fake keeps its
// own: a report poller reads a minute of NHN's result updates only once it
// is two minutes old (the lag NHN's listing may have), and the fake, which
// lists an update at once, stamps its updates that much earlier, so that
// they are read within a minute instead of three. The lookups' list
// windows (15 minutes around a send) take the difference in their stride.
const nhnListingLag = 2 * time.Minute

// TestProviderReportsThroughKills is TestReportsThroughKills on a NAVER, an
// NHN and a Kakao account, the real adapters against their fakes (NAVER's
// request list, NHN's result updates by update window, Kakao's result
// polling and completion): the holders of their report leases are
// SIGKILLed in turn, and every accepted recipient still has exactly one
// report. NHN's messages go through the states its documents give before
// they are terminal (pending, 3005 then delivered, a fallback due, sending
// and sent), and each NHN recipient's report has the state of its last
// one. A third of FAULT_RECIPIENTS each (Kakao the rest).
func TestProviderReportsThroughKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs worker binaries through SIGKILLs")
	}
	p := loadProfile(t)
	naverAPI, kakaoAPI := naverfake.New(t), kakaofake.New(t)
	nhnAPI := nhnfake.New(t, nhnfake.WithDeliveryStep(500*time.Millisecond),
		nhnfake.WithClock(func() time.Time { return time.Now().Add(-nhnListingLag) }))
	seedFakes(naverAPI, nhnAPI)
	n := p.recipients / 3
	// Failures without a fallback, or whose fallback fails, are left to the
	// adapter's tests (TestResultUpdatesFollowTheDeliveryStates): a lookup
	// after a kill reads them as failed results, and here every recipient
	// is accepted.
	nhnStates := map[string]string{}
	nhnJobs := reportJobs("hrep", nhnAccount, job.AlimTalk, senderKey, "ORDER_SHIPPED", n)
	for _, j := range nhnJobs {
		for i, r := range j.Recipients {
			state := "delivered"
			switch seq, _ := strconv.Atoi(r.Ref); seq % 10 {
			case 3:
				nhnAPI.FailDelivery(r.Phone, "3015", nhnfake.FallbackSent)
				state = "fallback_sent"
			case 7:
				nhnAPI.FailDelivery(r.Phone, "3005", nhnfake.NoFallback) // receipt unconfirmed, then delivered
			}
			nhnStates[resultKey(j.ID, i)] = state
		}
	}
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
			"options":     map[string]any{"service_id": naverfake.ServiceID}},
		map[string]any{"name": nhnAccount, "provider": "nhn", "base_url": nhnAPI.URL(),
			"credentials": secrets("secret_key", nhnfake.SecretKey),
			"options":     map[string]any{"app_key": nhnfake.AppKey}},
		map[string]any{"name": kakaoAccount, "provider": "kakao", "base_url": kakaoAPI.URL(),
			"credentials": secrets("client_id", kakaofake.ClientID, "client_secret", kakaofake.ClientSecret),
			"options":     map[string]any{"sender_no": kakaoSenderNo}},
	}
	for _, a := range accounts {
		// What a killed worker left unsettled is looked up within seconds.
		a := a.(map[string]any)
		a["reports"], a["retry"] = reports, retryPolicy()
		a["options"].(map[string]any)["not_found_after"] = notFoundAfter.String()
	}
	nhnPoller := nhnAccount + "." + string(job.AlimTalk)
	jobs := append(reportJobs("nrep", naverAccount, job.AlimTalk, "", "ORDER_SHIPPED", n), nhnJobs...)
	jobs = append(jobs, reportJobs("krep", kakaoAccount, job.AlimTalk, senderKey, "ORDER_SHIPPED", p.recipients-2*n)...)
	states := reportsThroughKills(t, p, accounts, jobs, []string{nhnPoller, naverAccount, kakaoAccount}, []string{naverAccount, nhnPoller})
	wrong := 0
	for key, want := range nhnStates {
		if got := states[key]; got != want {
			if wrong++; wrong <= 5 {
				t.Errorf("NHN recipient %s reported %q, want %q", key, got, want)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d NHN recipients reported in the wrong state", wrong, len(nhnStates))
	}
	t.Logf("NHN report states: %v", countStates(states, nhnStates))
}

// countStates counts the reported states of the recipients keyed in of.
func countStates(states map[string]string, of map[string]string) map[string]int {
	n := map[string]int{}
	for key := range of {
		n[states[key]]++
	}
	return n
}
