package worker_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// TestNHNLookupFindsTheReservationCancelled: a reserved NHN job is taken,
// its answer lost (unknown); by the lookup, its reservation has been
// cancelled at NHN (its console), and NHN lists it CANCEL. Each recipient
// ends canceled, reserved_by provider — never sent, and not sent again.
func TestNHNLookupFindsTheReservationCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api := nhnfake.New(t)
	seedNHNSenders(api)
	upstream, err := url.Parse(api.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var cancelOnce sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Has("recipientGroupingKey") { // the first lookup: cancelled meanwhile
			cancelOnce.Do(func() {
				api.EditRecords(func(rec *nhnfake.Record) { rec.MessageStatus, rec.ResultCode, rec.ResultCodeName = "CANCEL", "", "" })
			})
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	api.Next(providertest.Answer{Hang: true}) // taken, then no answer: unknown

	reserveAt := time.Now().Add(3 * time.Hour).Truncate(time.Minute)
	j := &job.Job{Version: 1, ID: "nhn-cancelled-there", Account: "nhn-main", Kind: job.AlimTalk,
		Sender: "0123456789abcdef0123456789abcdef01234567", Template: "ORDER_SHIPPED", ReserveAt: &reserveAt}
	for i := range 2 {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: fmt.Sprintf("010-2222-88%02d", i), Content: "주문하신 상품이 발송되었습니다."})
	}
	a := providerAccount(t, "nhn-main", "nhn", front.URL, "", map[string]string{"secret_key": nhnfake.SecretKey},
		map[string]any{"app_key": nhnfake.AppKey})
	a.RequestTimeout = time.Second
	a.Retry = fastRetry(3)
	e.publishJob(j)
	e.startWith(e.config(a), worker.Options{Providers: worker.Providers})

	for _, ev := range e.results(2, 30*time.Second) {
		if ev.Status != result.Canceled || ev.Reason != result.ReasonCanceled || ev.ReservedBy != result.ReservedByProvider || ev.Code != "CANCEL" {
			t.Errorf("recipient %d: %s/%s code %q reserved_by %q; want canceled/canceled, CANCEL, reserved by the provider",
				ev.RecipientIndex, ev.Status, ev.Reason, ev.Code, ev.ReservedBy)
		}
	}
	if api.Sends() != 1 {
		t.Errorf("%d sends; a cancelled message is never sent again", api.Sends())
	}
}
