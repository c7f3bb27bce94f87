package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/client"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// TestCancelReservationsEndToEnd: through NATS and the real adapters to
// their fakes, a reserved NAVER job and a reserved NHN job are taken by
// the provider (accepted, reserved_by provider), each in a request of its
// own although they share a batch key with an unreserved job; cancelling
// them cancels the provider's reservation and publishes a canceled result
// per recipient, while the unreserved job sharing their key keeps its
// results. A reserved Kakao job is held by talkrelay (a schedule, no
// request); cancelled, it ends canceled at once, its schedule deleted.
func TestCancelReservationsEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	naverAPI := naverfake.New(t)
	nhnAPI := nhnfake.New(t)
	seedProviderFakes(naverAPI, nhnAPI)
	kakaoAPI := kakaofake.New(t)
	reserveAt := time.Now().Add(3 * time.Hour).Truncate(time.Minute)

	recipients := func(prefix string, n int) []job.Recipient {
		var rs []job.Recipient
		for i := range n {
			rs = append(rs, job.Recipient{Ref: fmt.Sprintf("%s%d", prefix, i), Phone: fmt.Sprintf("010-%s-%04d", prefix, i),
				Content: "주문하신 상품이 발송되었습니다."})
		}
		return rs
	}
	naverReserved := &job.Job{Version: 1, ID: "naver-reserved", Account: "naver-main", Kind: job.AlimTalk, Template: "ORDER_SHIPPED",
		ReserveAt: &reserveAt, Recipients: recipients("1111", 2)}
	naverNow := &job.Job{Version: 1, ID: "naver-now", Account: "naver-main", Kind: job.AlimTalk, Template: "ORDER_SHIPPED",
		Recipients: recipients("1112", 1)}
	const nhnSenderKey = "0123456789abcdef0123456789abcdef01234567"
	nhnReserved := &job.Job{Version: 1, ID: "nhn-reserved", Account: "nhn-main", Kind: job.AlimTalk, Sender: nhnSenderKey,
		Template: "ORDER_RECEIVED", ReserveAt: &reserveAt, Recipients: recipients("2222", 2)}
	kakaoReserved := &job.Job{Version: 1, ID: "kakao-reserved", Account: "kakao-main", Kind: job.AlimTalk,
		Sender: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", Template: "ORDER_SHIPPED", ReserveAt: &reserveAt,
		Recipients: []job.Recipient{{Ref: "k0", Phone: "010-3333-0000", Content: "[Talkrelay] 주문하신 상품이 발송되었습니다."}}}
	for _, j := range []*job.Job{naverReserved, naverNow, nhnReserved, kakaoReserved} {
		e.publishJob(j)
	}
	cfg := e.config(providerAccounts(t, naverAPI.URL(), nhnAPI.URL(), kakaoAPI.URL())...)
	cfg.Worker.Linger = time.Second // the NAVER jobs share a batch key and come within it
	e.startWith(cfg, worker.Options{Providers: worker.Providers})

	for _, ev := range e.results(5, 30*time.Second) {
		wantBy := result.ReservedByProvider
		if ev.JobID == "naver-now" {
			wantBy = ""
		}
		if ev.Status != result.Accepted || ev.ReservedBy != wantBy {
			t.Errorf("%s #%d: %s reserved_by %q; want accepted, reserved_by %q", ev.JobID, ev.RecipientIndex, ev.Status, ev.ReservedBy, wantBy)
		}
	}
	if n := naverAPI.Sends(); n != 2 {
		t.Errorf("%d NAVER requests; want 2: a reserved job never shares one", n)
	}
	e.schedules(1) // the Kakao job, held until reserve_at
	if n := kakaoAPI.Sends(); n != 0 {
		t.Errorf("%d Kakao requests before reserve_at; want none", n)
	}

	for _, c := range []struct {
		id   string
		fake interface{ Canceled() int }
	}{{"naver-reserved", naverAPI}, {"nhn-reserved", nhnAPI}} {
		account := map[string]string{"naver-reserved": "naver-main", "nhn-reserved": "nhn-main"}[c.id]
		r := e.cancelJob(account, c.id)
		if r.Outcome != client.CancelStored || r.ReservationsCanceled != 2 || r.TooLate != 0 || r.Results["canceled"] != 2 {
			t.Errorf("cancel %s: %+v; want 2 reservations canceled, none too late", c.id, r)
		}
		if n := c.fake.Canceled(); n != 2 {
			t.Errorf("%s: the provider cancelled %d messages; want 2", c.id, n)
		}
		if again := e.cancelJob(account, c.id); again.Outcome != client.CancelAlready || again.ReservationsCanceled != 0 {
			t.Errorf("second cancel of %s: %+v; want already_canceled, nothing more cancelled", c.id, again)
		}
	}
	if r := e.cancelJob("naver-main", "naver-now"); r.TooLate != 1 || r.ReservationsCanceled != 0 {
		t.Errorf("cancel of a job sent at once: %+v; want 1 too late", r)
	}
	if r := e.cancelJob("kakao-main", "kakao-reserved"); r.Outcome != client.CancelStored || r.Results["canceled"] != 1 || r.TooLate != 0 {
		t.Errorf("cancel of the held Kakao job: %+v; want its recipient canceled at once", r)
	}
	if n, err := e.subjectCount(streams.JobsStream, streams.SchedulePrefix+".>"); err != nil || n != 0 {
		t.Errorf("%d schedules left (%v); want the held job's deleted", n, err)
	}
	evs := e.results(10, 30*time.Second)[5:]
	canceled := map[string]int{}
	for _, ev := range evs {
		if ev.Status != result.Canceled || ev.Reason != result.ReasonCanceled {
			t.Errorf("%s #%d after the cancels: %s/%s; want canceled", ev.JobID, ev.RecipientIndex, ev.Status, ev.Reason)
		}
		canceled[ev.JobID]++
	}
	if canceled["naver-reserved"] != 2 || canceled["nhn-reserved"] != 2 || canceled["kakao-reserved"] != 1 {
		t.Errorf("canceled results by job: %v", canceled)
	}
	if n := kakaoAPI.Sends(); n != 0 {
		t.Errorf("%d Kakao requests for the cancelled job; want none", n)
	}
}

// TestKakaoReservationSentAtItsTime: through the real Kakao adapter, a
// reserved job is held (no request) until reserve_at, then sent once, its
// result saying talkrelay held it.
func TestKakaoReservationSentAtItsTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	kakaoAPI := kakaofake.New(t)
	now := time.Now().Truncate(time.Second)
	clock := &settableClock{t: now}
	reserveAt := now.Add(3 * time.Hour)
	e.publishJob(&job.Job{Version: 1, ID: "kakao-at-time", Account: "kakao-main", Kind: job.AlimTalk,
		Sender: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", Template: "ORDER_SHIPPED", ReserveAt: &reserveAt,
		Recipients: []job.Recipient{{Ref: "k0", Phone: "010-3333-0000", Content: "[Talkrelay] 주문하신 상품이 발송되었습니다."}}})
	e.startWith(e.config(providerAccounts(t, "", "", kakaoAPI.URL())[2]), worker.Options{Clock: clock, Providers: worker.Providers})

	sched := e.schedules(1)
	if n := kakaoAPI.Sends(); n != 0 {
		t.Fatalf("%d Kakao requests before reserve_at; want none", n)
	}
	clock.Set(reserveAt.Add(time.Second))
	e.fireSchedules(sched)
	ev := e.results(1, 30*time.Second)[0]
	if ev.Status != result.Accepted || ev.ReservedBy != result.ReservedByTalkrelay || kakaoAPI.Sends() != 1 {
		t.Errorf("result %s/%s (%s) reserved_by %q after %d requests; want accepted, talkrelay, 1", ev.Status, ev.Reason, ev.Message, ev.ReservedBy, kakaoAPI.Sends())
	}
}
