package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// TestNAVERLookupsCurrentQueryFormat: NAVER sends whose answer was lost
// are looked up through NATS and the worker with the request query in its
// current format (naverfake refuses the old one): a request NAVER took is
// found accepted and never sent again; one it never took is answered with
// an empty 404, proven absent after not_found_after and sent again.
func TestNAVERLookupsCurrentQueryFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		answer    providertest.Answer
		wantSends int
	}{
		{"taken, answer lost", providertest.Answer{Hang: true}, 1},
		{"never taken", providertest.Answer{HangUntaken: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			api := naverfake.New(t)
			api.Next(tc.answer)
			// The worker's preflight and template guard find them.
			api.AddChannel(naverfake.Channel{ChannelID: "@talkrelay-shop"})
			api.AddTemplate(naverfake.Template{ChannelID: "@talkrelay-shop", Code: "ORDER_SHIPPED"})
			j := &job.Job{Version: 1, ID: "naver-lookup-1", Account: "naver-main", Kind: job.AlimTalk, Template: "ORDER_SHIPPED"}
			for i := range 3 {
				j.Recipients = append(j.Recipients, job.Recipient{Phone: fmt.Sprintf("010-4444-%04d", i),
					Content: fmt.Sprintf("주문하신 상품이 발송되었습니다.\n주문번호: %d", i)})
			}
			a := providerAccount(t, "naver-main", "naver", api.URL(), "@talkrelay-shop",
				map[string]string{"access_key": naverfake.AccessKey, "secret_key": naverfake.SecretKey},
				map[string]any{"service_id": naverfake.ServiceID, "not_found_after": "1s"})
			a.RequestTimeout = time.Second
			a.Retry = fastRetry(3)
			e.publishJob(j)
			e.startWith(e.config(a), worker.Options{Providers: worker.Providers})

			for _, ev := range e.results(3, 30*time.Second) {
				if ev.Status != result.Accepted {
					t.Errorf("recipient %d: %s (%s %s), want accepted", ev.RecipientIndex, ev.Status, ev.Reason, ev.Detail)
				}
			}
			if api.Lookups() == 0 {
				t.Error("no request query: the case was not reached")
			}
			if api.Sends() != tc.wantSends {
				t.Errorf("%d sends, want %d", api.Sends(), tc.wantSends)
			}
			for i := range 3 {
				if n := api.AcceptedTo(j.Recipients[i].Phone); n != 1 {
					t.Errorf("recipient %d taken %d times, want once", i, n)
				}
			}
		})
	}
}
