package worker_test

import (
	"encoding/json"
	"fmt"
	"github.com/nats-io/nats.go/jetstream"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/kakao"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// providerAccount is an account of a real provider adapter pointed at
// baseURL, with inline credentials and the provider's options as its doc's
// example gives them.
func providerAccount(t *testing.T, name, provider, baseURL, sender string, creds map[string]string, opts map[string]any) config.Account {
	t.Helper()
	a := config.Account{Name: name, Provider: provider, BaseURL: baseURL, Sender: sender,
		Credentials: map[string]config.Secret{}, MaxConcurrency: 8, RequestTimeout: 10 * time.Second}
	for k, v := range creds {
		a.Credentials[k] = config.Secret{Value: v}
	}
	if err := a.Options.Encode(opts); err != nil {
		t.Fatal(err)
	}
	return a
}

// providerAccounts are the accounts naver-main, nhn-main and kakao-main of
// the real adapters pointed at their fakes' base URLs.
func providerAccounts(t *testing.T, naverURL, nhnURL, kakaoURL string) []config.Account {
	return []config.Account{
		providerAccount(t, "naver-main", "naver", naverURL, "@talkrelay-shop",
			map[string]string{"access_key": naverfake.AccessKey, "secret_key": naverfake.SecretKey},
			map[string]any{"service_id": naverfake.ServiceID}),
		providerAccount(t, "nhn-main", "nhn", nhnURL, "",
			map[string]string{"secret_key": nhnfake.SecretKey},
			map[string]any{"app_key": nhnfake.AppKey}),
		providerAccount(t, "kakao-main", "kakao", kakaoURL, "",
			map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret},
			map[string]any{"sender_no": "0212345678"}),
	}
}

// seedProviderFakes gives the fakes the channel, template and senders the
// end-to-end jobs use, which the worker's preflight and template and
// sender guard look up.
func seedProviderFakes(naverAPI *naverfake.Fake, nhnAPI *nhnfake.Fake) {
	naverAPI.AddChannel(naverfake.Channel{ChannelID: "@talkrelay-shop"})
	naverAPI.AddTemplate(naverfake.Template{ChannelID: "@talkrelay-shop", Code: "ORDER_SHIPPED"})
	seedNHNSenders(nhnAPI)
}

// seedNHNSenders gives NHN's fake the senders the tests' jobs name.
func seedNHNSenders(nhnAPI *nhnfake.Fake) {
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@talkrelay-at", SenderKey: "0123456789abcdef0123456789abcdef01234567"})
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@talkrelay", SenderKey: "f0123456789abcdef0123456789abcdef0123456"})
}

// TestProvidersEndToEnd sends a mix of jobs through NATS and the worker
// with the real NAVER, NHN and Kakao adapters to their strict fakes, and
// checks every recipient's result, the provider requests made and that
// every job was acknowledged.
func TestProvidersEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Started before the worker, so stopped after it.
	naverAPI := naverfake.New(t)
	nhnAPI := nhnfake.New(t)
	seedProviderFakes(naverAPI, nhnAPI)
	kakaoAPI := kakaofake.New(t)

	const (
		naverRetryable = "010-1111-0001" // answered B001: retryable relay failure
		naverPermanent = "010-1111-0002" // answered 3008: invalid phone number
		kakaoRefused   = "010-3333-0001" // answered 510: send failed
	)
	naverAPI.FailPhone(naverRetryable, "B001")
	naverAPI.FailPhone(naverPermanent, "3008")
	kakaoAPI.FailPhone(kakaoRefused, "510")

	meta := json.RawMessage(`{"campaign":"e2e"}`)
	naverOrder := &job.Job{Version: 1, ID: "naver-order-1", Account: "naver-main", Kind: job.AlimTalk,
		Template: "ORDER_SHIPPED", Metadata: meta} // sender: the account's
	for i := range 5 {
		naverOrder.Recipients = append(naverOrder.Recipients, job.Recipient{Ref: fmt.Sprintf("n%d", i),
			Phone: fmt.Sprintf("010-1111-%04d", i), Content: fmt.Sprintf("주문하신 상품이 발송되었습니다.\n주문번호: %d", 1000+i)})
	}
	// NAVER AlimTalk has no quick replies: rejected before any request.
	naverOrder.Recipients[3].QuickReplies = []job.Button{{Type: "WL", Name: "배송 조회", URLMobile: "https://m.example.com/track"}}
	naverSecond := &job.Job{Version: 1, ID: "naver-order-2", Account: "naver-main", Kind: job.AlimTalk, Template: "ORDER_SHIPPED",
		Recipients: []job.Recipient{{Ref: "m0", Phone: "010-1111-0100", Content: "주문하신 상품이 발송되었습니다.\n주문번호: 2000"}}}

	const nhnSenderKey = "0123456789abcdef0123456789abcdef01234567"
	nhnVars := func(id string, n int) *job.Job {
		j := &job.Job{Version: 1, ID: id, Account: "nhn-main", Kind: job.AlimTalk, Sender: nhnSenderKey, Template: "ORDER_RECEIVED"}
		for i := range n {
			j.Recipients = append(j.Recipients, job.Recipient{Ref: fmt.Sprintf("%s-%d", id, i), Phone: fmt.Sprintf("010-2222-%02d%02d", len(id), i),
				Variables: map[string]string{"name": "홍길동", "order": fmt.Sprint(3000 + i)}})
		}
		return j
	}
	nhnAT1, nhnAT2 := nhnVars("nhn-at-1", 2), nhnVars("nhn-at-22", 1)
	nhnFT := &job.Job{Version: 1, ID: "nhn-ft-1", Account: "nhn-main", Kind: job.FriendTalk, Sender: "@talkrelay", Ad: false,
		Recipients: []job.Recipient{
			{Ref: "f0", Phone: "010-2222-9000", Content: "이번 주 새 소식을 알려 드립니다."},
			{Ref: "f1", Phone: "010-2222-9001", Content: "이번 주 새 소식을 알려 드립니다."},
		}}

	kakaoAT := &job.Job{Version: 1, ID: "kakao-at-1", Account: "kakao-main", Kind: job.AlimTalk,
		Sender: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567", Template: "ORDER_SHIPPED"}
	for i := range 3 {
		kakaoAT.Recipients = append(kakaoAT.Recipients, job.Recipient{Ref: fmt.Sprintf("k%d", i),
			Phone: fmt.Sprintf("010-3333-%04d", i), Content: "[Talkrelay] 주문하신 상품이 발송되었습니다."})
	}

	jobs := []*job.Job{naverOrder, naverSecond, nhnAT1, nhnAT2, nhnFT, kakaoAT}
	total := 0
	for _, j := range jobs {
		e.publishJob(j)
		total += len(j.Recipients)
	}

	cfg := e.config(providerAccounts(t, naverAPI.URL(), nhnAPI.URL(), kakaoAPI.URL())...)
	// B001 is retryable: the NAVER recipient that keeps getting it is tried
	// twice, a second apart, then ends failed.
	cfg.Accounts[0].Retry = retry.Policy{MaxAttempts: 2, InitialInterval: time.Second, MaxInterval: time.Second}
	// The jobs are queued before the worker starts and all fetched at
	// once, well within a second: the recipients of one batch key, across
	// jobs, share one request.
	cfg.Worker.Linger = time.Second
	e.startWith(cfg, worker.Options{Providers: worker.Providers})

	evs := e.results(total, 30*time.Second)

	type outcome struct {
		Status    result.Status
		Reason    result.Reason
		Code      string
		Retryable bool
	}
	accepted := func(code string) outcome { return outcome{result.Accepted, result.ReasonOK, code, false} }
	want := map[string]outcome{
		"naver-order-1/0": accepted("A000"),
		"naver-order-1/1": {result.Failed, result.ReasonProviderUnavailable, "B001", true},
		"naver-order-1/2": {result.Failed, result.ReasonInvalidRecipient, "3008", false},
		"naver-order-1/3": {result.Rejected, result.ReasonInvalidRecipient, "", false},
		"naver-order-1/4": accepted("A000"),
		"naver-order-2/0": accepted("A000"),
		"nhn-at-1/0":      accepted("0"),
		"nhn-at-1/1":      accepted("0"),
		"nhn-at-22/0":     accepted("0"),
		"nhn-ft-1/0":      accepted("0"),
		"nhn-ft-1/1":      accepted("0"),
		"kakao-at-1/0":    accepted("200"),
		"kakao-at-1/1":    {result.Failed, result.ReasonProviderRejected, "510", false},
		"kakao-at-1/2":    accepted("200"),
	}
	byKey := map[string]result.Event{}
	for _, ev := range evs {
		k := fmt.Sprintf("%s/%d", ev.JobID, ev.RecipientIndex)
		if _, dup := byKey[k]; dup {
			t.Errorf("%s: more than one result", k)
		}
		byKey[k] = ev
		w, ok := want[k]
		if !ok {
			t.Errorf("unexpected result %s: %+v", k, ev)
			continue
		}
		if got := (outcome{ev.Status, ev.Reason, ev.Code, ev.Retryable}); got != w {
			t.Errorf("%s: status, reason, code, retryable = %v, want %v (message %q)", k, got, w, ev.Message)
		}
		attempt := 1 // provider calls made for it
		switch {
		case ev.Status == result.Rejected:
			attempt = 0
		case ev.Retryable:
			attempt = 2
		}
		if ev.Attempt != attempt || ev.TraceID == "" || ev.Provider != strings.TrimSuffix(ev.Account, "-main") {
			t.Errorf("%s: attempt %d (want %d), trace %q, provider %q of account %q", k, ev.Attempt, attempt, ev.TraceID, ev.Provider, ev.Account)
		}
		if ev.Status == result.Failed && (ev.CodeName == "" || ev.Message == "") {
			t.Errorf("%s: failed without the provider's code name and message: %+v", k, ev)
		}
	}
	if len(byKey) != len(want) {
		t.Fatalf("results for %d recipients, want %d", len(byKey), len(want))
	}
	if ev := byKey["naver-order-1/3"]; !strings.Contains(ev.Message, "quick_replies") || ev.ProviderRequestID != "" {
		t.Errorf("Check rejection: message %q, request id %q; want one naming quick_replies and no request", ev.Message, ev.ProviderRequestID)
	}
	if string(byKey["naver-order-1/0"].Metadata) != string(meta) || byKey["naver-order-1/0"].Ref != "n0" {
		t.Errorf("metadata %s, ref %q not echoed", byKey["naver-order-1/0"].Metadata, byKey["naver-order-1/0"].Ref)
	}

	// Provider identifiers: NAVER's requestId and messageId for every
	// message it answered, all in one request; the retried one in a second.
	if ev := byKey["naver-order-1/1"]; ev.ProviderRequestID != "RQ-2" || !strings.HasPrefix(ev.ProviderMessageID, "MSG-2-") {
		t.Errorf("retried NAVER message: request id %q, message id %q; want RQ-2, MSG-2-n", ev.ProviderRequestID, ev.ProviderMessageID)
	}
	if !strings.Contains(byKey["naver-order-1/1"].Detail, "2 attempts") {
		t.Errorf("retried NAVER message: detail %q does not say it gave up after 2 attempts", byKey["naver-order-1/1"].Detail)
	}
	naverMsgIDs := map[string]bool{}
	for _, k := range []string{"naver-order-1/0", "naver-order-1/2", "naver-order-1/4", "naver-order-2/0"} {
		ev := byKey[k]
		if ev.ProviderRequestID != "RQ-1" || !strings.HasPrefix(ev.ProviderMessageID, "MSG-1-") || naverMsgIDs[ev.ProviderMessageID] {
			t.Errorf("%s: request id %q, message id %q; want RQ-1 and a distinct MSG-1-n", k, ev.ProviderRequestID, ev.ProviderMessageID)
		}
		naverMsgIDs[ev.ProviderMessageID] = true
	}
	// NHN: one requestId per request (AlimTalk with variables across two
	// jobs, FriendTalk), the recipientSeq as message id.
	nhnRequest := func(keys ...string) string {
		t.Helper()
		id := byKey[keys[0]].ProviderRequestID
		seqs := map[string]bool{}
		for _, k := range keys {
			ev := byKey[k]
			if ev.ProviderRequestID == "" || ev.ProviderRequestID != id || ev.ProviderMessageID == "" || seqs[ev.ProviderMessageID] {
				t.Errorf("%s: request id %q (want %q, shared), message id %q (want a distinct recipientSeq)", k, ev.ProviderRequestID, id, ev.ProviderMessageID)
			}
			seqs[ev.ProviderMessageID] = true
		}
		return id
	}
	if at, ft := nhnRequest("nhn-at-1/0", "nhn-at-1/1", "nhn-at-22/0"), nhnRequest("nhn-ft-1/0", "nhn-ft-1/1"); at == ft {
		t.Errorf("AlimTalk and FriendTalk share NHN request id %q", at)
	}
	// Kakao: the cid as request id, the uid as message id when accepted.
	for i := range 3 {
		ev := byKey[fmt.Sprintf("kakao-at-1/%d", i)]
		if ev.ProviderRequestID != kakao.CID(kakaoAT.ID, i) || (ev.Status == result.Accepted) != (ev.ProviderMessageID != "") {
			t.Errorf("kakao-at-1/%d: request id %q (want the cid), message id %q", i, ev.ProviderRequestID, ev.ProviderMessageID)
		}
	}

	// What the providers saw. NAVER: both jobs' five sendable recipients
	// in one request, and the retry of one of them; NHN: one request per
	// API; Kakao: one per recipient and one token for all of them.
	if n := naverAPI.Sends(); n != 2 {
		t.Errorf("NAVER requests = %d, want 2", n)
	}
	if n := nhnAPI.Sends(); n != 2 {
		t.Errorf("NHN requests = %d, want 2 (%q)", n, nhnAPI.Paths())
	}
	paths := nhnAPI.Paths()
	slices.Sort(paths)
	if wantPaths := []string{"/alimtalk/v2.3/appkeys/" + nhnfake.AppKey + "/messages", "/friendtalk/v1.5/appkeys/" + nhnfake.AppKey + "/messages"}; !slices.Equal(paths, wantPaths) {
		t.Errorf("NHN paths %q, want %q", paths, wantPaths)
	}
	if n, tok := kakaoAPI.Sends(), kakaoAPI.TokenRequests(); n != 3 || tok != 1 {
		t.Errorf("Kakao requests = %d, token requests = %d; want 3, 1", n, tok)
	}
	for _, j := range []*job.Job{naverOrder, naverSecond} {
		for i, r := range j.Recipients {
			wantN := 0
			if want[fmt.Sprintf("%s/%d", j.ID, i)].Status == result.Accepted {
				wantN = 1
			}
			if n := naverAPI.Accepted(r.Phone, r.Content); n != wantN {
				t.Errorf("NAVER took %s/%d %d times, want %d", j.ID, i, n, wantN)
			}
		}
	}
	for _, j := range []*job.Job{nhnAT1, nhnAT2, nhnFT} {
		for i := range j.Recipients {
			if n := nhnAPI.Accepted(nhn.RecipientGroupingKey(j.ID, i)); n != 1 {
				t.Errorf("NHN took %s/%d %d times, want 1", j.ID, i, n)
			}
		}
	}
	for i, wantN := range []int{1, 0, 1} {
		if n := kakaoAPI.Accepted(kakao.CID(kakaoAT.ID, i)); n != wantN {
			t.Errorf("Kakao took kakao-at-1/%d %d times, want %d", i, n, wantN)
		}
	}

	waitFor(t, 10*time.Second, "jobs stream empty (all acked)", func() bool { return e.streamCount(streams.JobsStream) == 0 })
	if n := e.streamCount(streams.ResultsStream); n != uint64(total) {
		t.Errorf("results stream holds %d events, want %d", n, total)
	}
	// Only the job whose recipient ran out of attempts is dead-lettered;
	// permanent refusals are reported by their results alone.
	dead := readStream(t, e.js, streams.DLQStream, 1, 5*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	if h := dead[0].Headers(); h.Get(streams.HeaderJobID) != "naver-order-1" || h.Get(streams.HeaderRecipients) != "1" {
		t.Errorf("dead letter for job %q recipients %q, want naver-order-1 recipient 1", h.Get(streams.HeaderJobID), h.Get(streams.HeaderRecipients))
	}
	if n := e.streamCount(streams.DLQStream); n != 1 {
		t.Errorf("%d jobs dead-lettered, want 1", n)
	}
}

// TestNHNLookupFailsOnlyItsGroup: two NHN messages of one request end
// unknown (NHN took them, the answer was lost). NHN's list fails for the
// grouping key of one of them on every lookup; the other is still found
// accepted, and only the failing one ends unknown after its lookups.
func TestNHNLookupFailsOnlyItsGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api := nhnfake.New(t)
	api.AddSender(nhnfake.Sender{PlusFriendID: "@talkrelay-at", SenderKey: "0123456789abcdef0123456789abcdef01234567"})
	j := &job.Job{Version: 1, ID: "nhn-lookup-1", Account: "nhn-main", Kind: job.AlimTalk,
		Sender: "0123456789abcdef0123456789abcdef01234567", Template: "ORDER_RECEIVED"}
	for i := range 2 {
		j.Recipients = append(j.Recipients, job.Recipient{Phone: fmt.Sprintf("010-2222-77%02d", i), Content: "주문이 접수되었습니다."})
	}
	failing := nhn.RecipientGroupingKey(j.ID, 1)
	upstream, err := url.Parse(api.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("recipientGroupingKey") == failing {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"header":{"resultCode":-9999,"resultMessage":"System error","isSuccessful":false}}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	api.Next(providertest.Answer{Hang: true}) // taken, then no answer: unknown

	a := providerAccount(t, "nhn-main", "nhn", front.URL, "", map[string]string{"secret_key": nhnfake.SecretKey},
		map[string]any{"app_key": nhnfake.AppKey})
	a.RequestTimeout = time.Second
	a.Retry = fastRetry(3) // 2 lookups, a second apart
	e.publishJob(j)
	e.startWith(e.config(a), worker.Options{Providers: worker.Providers})

	evs := byIndex(e.results(2, 30*time.Second))
	if ev := evs[0]; ev.Status != result.Accepted || ev.Attempt != 1 {
		t.Errorf("recipient whose listing works: %s (%s %s); want accepted by the lookup", ev.Status, ev.Reason, ev.Detail)
	}
	if ev := evs[1]; ev.Status != result.Unknown || !strings.Contains(ev.Detail, "2 lookups") {
		t.Errorf("recipient whose listing fails: %s (%s); want unknown after 2 lookups", ev.Status, ev.Detail)
	}
	if api.Sends() != 1 {
		t.Errorf("%d sends; an unknown outcome must never be resent blindly", api.Sends())
	}
}
