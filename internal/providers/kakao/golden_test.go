package kakao

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

var update = flag.Bool("update", false, "rewrite the golden request bodies under testdata/")

func int64p(v int64) *int64 { return &v }

// TestGoldenRequestBodies sends each job through the fake and compares the
// body on the wire with testdata/<name>.json.
func TestGoldenRequestBodies(t *testing.T) {
	t.Parallel()
	at := func(edit func(j *job.Job, r *job.Recipient)) *job.Job {
		j := &job.Job{Version: 1, ID: "order-20221018-0001", Account: "kakao-main", Kind: job.AlimTalk,
			Sender: "2662e99eb7a1f21abb3955278e9955f5a9a99b62", Template: "TEMPLATE_001"}
		j.Recipients = []job.Recipient{{Phone: "010-1234-1234", Content: " 알림톡 메시지"}}
		if edit != nil {
			edit(j, &j.Recipients[0])
		}
		return j
	}
	for _, tc := range []struct {
		name string
		opt  func(*Config)
		job  *job.Job
	}{
		{name: "alimtalk_basic", job: at(nil)},
		{name: "alimtalk_emphasised_title", job: at(func(j *job.Job, r *job.Recipient) {
			j.Template = "PAYMENT_DONE"
			r.Title = "24,000원 결제 완료"
			r.Content = "홍길동님, 주문하신 상품의 결제가 완료되었습니다.\n\n주문번호: 7781\n결제금액: 24,000원"
			r.Price, r.Currency = int64p(24000), "KRW"
		})},
		{name: "alimtalk_item_list", job: at(func(j *job.Job, r *job.Recipient) {
			j.Template = "RECEIPT_ITEMS"
			r.Header = "영수증"
			r.Content = "구매해 주셔서 감사합니다."
			r.ItemHighlight = &job.Pair{Title: "Talkrelay Shop", Description: "주문 7781"}
			r.Item = &job.Item{
				List:    []job.Pair{{Title: "상품", Description: "파란 머그컵"}, {Title: "수량", Description: "2"}},
				Summary: &job.Pair{Title: "합계", Description: "₩24,000"},
			}
			r.Buttons = []job.Button{{Type: "AL", Name: "앱에서 보기", SchemeIOS: "shop://orders/7781", SchemeAndroid: "shop://orders/7781"}}
		})},
		{name: "alimtalk_buttons_link_types", job: at(func(j *job.Job, r *job.Recipient) {
			r.Buttons = []job.Button{
				{Type: "DS", Name: "배송 조회"},
				{Type: "WL", Name: "주문 상세", URLMobile: "https://m.shop.example.com/orders/7781?tab=detail&from=kakao", URLPC: "https://shop.example.com/orders/7781"},
				{Type: "AL", Name: "앱 열기", SchemeIOS: "shop://orders/7781", SchemeAndroid: "intent://orders/7781#Intent;scheme=shop;end"},
				{Type: "BK", Name: "문의하기"},
				{Type: "MD", Name: "내용 전달"},
			}
		})},
		{name: "alimtalk_buttons_chat_types_and_quick_links", job: at(func(j *job.Job, r *job.Recipient) {
			r.Buttons = []job.Button{
				{Type: "AC", Name: "채널 추가"},
				{Type: "BC", Name: "상담원 연결", ChatExtra: "order=7781"},
				{Type: "BT", Name: "챗봇 문의", ChatExtra: "order=7781", ChatEvent: "order_help"},
			}
			r.QuickReplies = []job.Button{
				{Type: "WL", Name: "웹으로 보기", URLMobile: "https://m.shop.example.com/orders/7781"},
				{Type: "AL", Name: "앱으로 보기", SchemeIOS: "shop://orders/7781", SchemeAndroid: "shop://orders/7781"},
				{Type: "BK", Name: "배송 문의"},
				{Type: "MD", Name: "전달하기"},
				{Type: "BC", Name: "상담톡", ChatExtra: "order=7781"},
				{Type: "BT", Name: "챗봇", ChatEvent: "order_help"},
			}
		})},
		{name: "alimtalk_fallback_lms", job: at(func(j *job.Job, r *job.Recipient) {
			j.Failover = &job.Failover{Enabled: job.Bool(true), Type: "LMS", From: "02-1112-2222", Title: "배송 안내",
				Content: "[Talkrelay] 주문하신 상품이 발송되었습니다. 카카오톡을 받을 수 없어 문자로 안내드립니다. 송장번호 1234-5678, 택배사 한진택배. 문의는 고객센터 1588-0000으로 연락 주세요."}
			r.TaxCodes = []string{"DEPT-LOGISTICS", "CC-2026-11"}
		})},
		{name: "alimtalk_international_client_id", opt: func(c *Config) {
			c.PhoneFormat = PhoneInternational
			c.ClientID = "C000000123"
		}, job: at(nil)},
		{name: "friendtalk_image", job: func() *job.Job {
			j := &job.Job{Version: 1, ID: "promo-2026-11-spring-0001", Account: "kakao-main", Kind: job.FriendTalk,
				Sender: "2662e99eb7a1f21abb3955278e9955f5a9a99b62", Ad: true}
			j.Recipients = []job.Recipient{{
				Phone:   "01012345678",
				Content: "(광고) 이번 주말 전 품목 20% 할인!",
				Image:   &job.Image{URL: "https://mud-kage.kakao.com/dn/abc/img_l.jpg", Link: "https://shop.example.com/sale"},
				Buttons: []job.Button{{Type: "WL", Name: "지금 쇼핑하기", URLMobile: "https://shop.example.com/sale"}},
			}}
			return j
		}()},
		{name: "friendtalk_text", job: func() *job.Job {
			j := friendTalkJob(1)
			j.Failover = &job.Failover{Enabled: job.Bool(true), From: "0212345678"}
			return j
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, newClock())
			c := newTestClient(t, f, tc.opt)
			m := providers.Message{Job: tc.job, Recipient: &tc.job.Recipients[0], Attempt: 1}
			if err := c.Check(&m); err != nil {
				t.Fatalf("Check: %v", err)
			}
			out, err := c.Send(t.Context(), providertest.Batch(tc.job, 1))
			if err != nil || out[0].Class != providers.Accepted {
				t.Fatalf("Send = %+v, %v", out, err)
			}
			checkGolden(t, tc.name, f.LastBody())
		})
	}
}

// checkGolden compares body, indented, with testdata/<name>.json (-update
// rewrites the file).
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	var got bytes.Buffer
	if err := json.Indent(&got, body, "", "  "); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("body differs from %s (go test -update rewrites it)\n got: %s\nwant: %s", path, got.Bytes(), want)
	}
}
