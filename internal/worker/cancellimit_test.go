package worker_test

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// TestProviderCancelWaitsForTheRateLimit: the request that cancels a
// provider-side reservation (NAVER DELETE …/reservations/{reserveId}, NHN
// DELETE …/messages/{requestId}) first waits for the account's rate
// limiter, as a send or a lookup does: each cancel adds one wait to
// talkrelay_ratelimit_wait_seconds of its account.
func TestProviderCancelWaitsForTheRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	naverAPI := naverfake.New(t)
	nhnAPI := nhnfake.New(t)
	seedProviderFakes(naverAPI, nhnAPI)
	reserveAt := time.Now().Add(3 * time.Hour).Truncate(time.Minute)
	jobs := []*job.Job{
		{Version: 1, ID: "naver-limited", Account: "naver-main", Kind: job.AlimTalk, Template: "ORDER_SHIPPED", ReserveAt: &reserveAt,
			Recipients: []job.Recipient{{Ref: "n0", Phone: "010-1111-0000", Content: "주문하신 상품이 발송되었습니다."}}},
		{Version: 1, ID: "nhn-limited", Account: "nhn-main", Kind: job.AlimTalk, Sender: "0123456789abcdef0123456789abcdef01234567",
			Template: "ORDER_RECEIVED", ReserveAt: &reserveAt,
			Recipients: []job.Recipient{{Ref: "h0", Phone: "010-2222-0000", Content: "주문하신 상품이 발송되었습니다."}}},
	}
	for _, j := range jobs {
		e.publishJob(j)
	}
	addr := freeAddr(t)
	cfg := e.config(providerAccounts(t, naverAPI.URL(), nhnAPI.URL(), "")[:2]...)
	cfg.HTTP.Addr = addr
	e.startWith(cfg, worker.Options{Providers: worker.Providers})
	for _, ev := range e.results(2, 30*time.Second) {
		if ev.Status != result.Accepted || ev.ReservedBy != result.ReservedByProvider {
			t.Fatalf("%s: %s reserved_by %q; want accepted, reserved by the provider", ev.JobID, ev.Status, ev.ReservedBy)
		}
	}
	for _, j := range jobs {
		waits := func() float64 {
			v, _ := find(scrape(t, addr), "talkrelay_ratelimit_wait_seconds_count", `account="`+j.Account+`"`)
			return v
		}
		before := waits()
		if r := e.cancelJob(j.Account, j.ID); r.ReservationsCanceled != 1 {
			t.Fatalf("cancel %s: %+v; want its reservation cancelled", j.ID, r)
		}
		if after := waits(); after != before+1 {
			t.Errorf("%s: %g rate-limiter waits before the cancel, %g after; want one more, the cancel request's", j.Account, before, after)
		}
	}
}
