package nhn

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

var update = flag.Bool("update", false, "rewrite the golden request bodies under testdata/")

func ptr[T any](v T) *T { return &v }

// reserve is a reservation inside the 30-day horizon of daytime, at 10:30 KST.
var reserve = time.Date(2026, 7, 1, 10, 30, 0, 0, time.FixedZone("KST", 9*3600))

func goldenJobs() map[string]*job.Job {
	return map[string]*job.Job{
		// AlimTalk /messages: NHN renders the template from the variables.
		"alimtalk_template_parameters": {
			Version: 1, ID: "order-20260701-0001", Account: "nhn-main", Kind: job.AlimTalk,
			Sender: "0123456789abcdef0123456789abcdef01234567", Template: "ORDER_SHIPPED",
			ReserveAt: &reserve,
			Failover:  &job.Failover{Enabled: job.Bool(true), From: "1588-1234"},
			Recipients: []job.Recipient{
				{Phone: "010-1234-5678", Variables: map[string]string{"name": "홍길동", "courier": "CJ대한통운", "invoice": "1234567890"}},
				{Phone: "01098765432", Variables: map[string]string{"name": "김철수", "courier": "우체국택배", "invoice": "9876543210"}},
			},
		},
		// AlimTalk /raw-messages: full text, every AlimTalk button type, LMS fallback.
		"alimtalk_raw_buttons_resend": {
			Version: 1, ID: "order-20260701-0002", Account: "nhn-main", Kind: job.AlimTalk,
			Sender: "0123456789abcdef0123456789abcdef01234567", Template: "ORDER_DETAIL",
			Failover: &job.Failover{Enabled: job.Bool(true), Type: "LMS", From: "02-1234-5678", Title: "주문 안내",
				Content: "홍길동님, 주문이 발송되었습니다. 자세한 내용은 홈페이지에서 확인하세요."},
			Recipients: []job.Recipient{{
				Phone:   "01012345678",
				Content: "홍길동님, 주문하신 상품이 발송되었습니다.\n\n▶ 송장번호: 1234567890\n\n  (공백과 줄바꿈은 그대로)",
				Buttons: []job.Button{
					{Type: "DS", Name: "배송 조회"},
					{Type: "WL", Name: "주문 상세", URLMobile: "https://m.example.com/orders/1", URLPC: "https://www.example.com/orders/1"},
					{Type: "AL", Name: "앱에서 보기", SchemeIOS: "example://orders/1", SchemeAndroid: "example://orders/1"},
					{Type: "BK", Name: "상담 요청"},
					{Type: "MD", Name: "문의하기"},
				},
			}, {
				Phone:   "01087654321",
				Content: "김철수님, 주문하신 상품이 발송되었습니다.",
				Buttons: []job.Button{{Type: "AC", Name: "채널 추가"}},
				// A recipient's failover fields override the job's.
				Failover: &job.Failover{Content: "김철수님, 주문하신 상품이 발송되었습니다."},
			}},
		},
		// FriendTalk v1.5, informational text: isAd false is sent explicitly.
		"friendtalk_text": {
			Version: 1, ID: "news-20260620", Account: "nhn-main", Kind: job.FriendTalk, Sender: "@talkrelay",
			Recipients: []job.Recipient{{Phone: "01012345678", Content: "6월 정기 점검 안내: 6월 25일 02:00~04:00 서비스가 중단됩니다.",
				Buttons: []job.Button{{Type: "WL", Name: "공지 보기", URLMobile: "https://m.example.com/notice"}}}},
		},
		// FriendTalk v1.5 ad with an image, reserved, SMS fallback with an 080 number.
		"friendtalk_image_ad_080": {
			Version: 1, ID: "promo-20260701", Account: "nhn-main", Kind: job.FriendTalk, Sender: "@talkrelay",
			ReserveAt: &reserve, Ad: true,
			Failover: &job.Failover{Enabled: job.Bool(true), Type: "LMS", From: "1588-1234", Title: "여름 할인",
				Content: "(광고) 여름 할인 최대 50%\n[무료수신거부]080-123-4567", UnsubscribeNo: "080-123-4567"},
			Recipients: []job.Recipient{{
				Phone: "01012345678", Content: "(광고) 여름 할인 최대 50%! 지금 확인하세요.",
				Image:   &job.Image{Seq: ptr[int64](42), Link: "https://www.example.com/summer"},
				Buttons: []job.Button{{Type: "WL", Name: "할인 보기", URLMobile: "https://m.example.com/summer", URLPC: "https://www.example.com/summer"}, {Type: "BK", Name: "쿠폰 받기"}},
			}},
		},
	}
}

// brandGoldenJobs are a free-form Brand Message of every bubble type and
// a template-based one.
func brandGoldenJobs() map[string]*job.Job {
	jobs := map[string]*job.Job{}
	for _, bubble := range providertest.BrandBubbles {
		j := providertest.BrandJob(bubble, 2)
		j.ReserveAt = &reserve
		jobs["brand_"+strings.ToLower(bubble)] = j
	}
	basic := providertest.BrandJob(job.BubbleWide, 2)
	basic.Template, basic.Brand = "BM_WINTER_01", &job.Brand{Bubble: job.BubbleWide, Targeting: job.TargetingM}
	for i := range basic.Recipients {
		basic.Recipients[i].Variables = map[string]string{"name": fmt.Sprintf("고객%d", i)}
	}
	jobs["brand_basic_template"] = basic
	return jobs
}

func TestGoldenRequests(t *testing.T) {
	t.Parallel()
	jobs := goldenJobs()
	maps.Copy(jobs, brandGoldenJobs())
	for name, j := range jobs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, "http://nhn.test")
			for i := range j.Recipients {
				m := providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1}
				if err := c.Check(&m); err != nil {
					t.Fatalf("recipient %d fails Check: %v", i, err)
				}
			}
			b := providertest.Batch(j, len(j.Recipients))
			req, _, err := c.newRequest(t.Context(), b)
			if err != nil {
				t.Fatalf("newRequest: %v", err)
			}
			body, _ := io.ReadAll(req.Body)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if d := cmp.Diff(string(want), pretty.String()); d != "" {
				t.Errorf("%s (-golden +built):\n%s", path, d)
			}
			// Every golden body must also pass the fake's rules.
			product, op := string(j.Kind), "raw-messages"
			switch {
			case j.Kind == job.BrandMessage:
				product, op = "brand-message", req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
			case b.Key.Variables || j.Kind == job.FriendTalk:
				op = "messages"
			}
			for _, p := range nhnfake.Breaches(product, op, body) {
				t.Errorf("nhnfake rule: %s", p)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	night := time.Date(2026, 6, 20, 21, 0, 0, 0, time.FixedZone("KST", 9*3600))
	at := func(mut func(j *job.Job, r *job.Recipient)) *job.Job {
		j := alimTalkJob(1)
		mut(j, &j.Recipients[0])
		return j
	}
	ft := func(mut func(j *job.Job, r *job.Recipient)) *job.Job {
		j := friendTalkJob(1)
		mut(j, &j.Recipients[0])
		return j
	}
	none := func(*job.Job, *job.Recipient) {}
	for _, tc := range []struct {
		name    string
		job     *job.Job
		now     time.Time
		wantErr string // "" = accepted
	}{
		{"alimtalk content", at(none), daytime, ""},
		{"alimtalk variables only", at(func(j *job.Job, r *job.Recipient) { r.Content, r.Variables = "", map[string]string{"a": "b"} }), daytime, ""},
		{"alimtalk content of 1300", at(func(j *job.Job, r *job.Recipient) { r.Content = strings.Repeat("가", 1300) }), daytime, ""},
		{"alimtalk content of 1301", at(func(j *job.Job, r *job.Recipient) { r.Content = strings.Repeat("가", 1301) }), daytime, "content: 1301 characters"},
		{"alimtalk all button types", at(func(j *job.Job, r *job.Recipient) {
			r.Buttons = goldenJobs()["alimtalk_raw_buttons_resend"].Recipients[0].Buttons
		}), daytime, ""},
		{"alimtalk BC button", at(func(j *job.Job, r *job.Recipient) { r.Buttons = []job.Button{{Type: "BC", Name: "상담"}} }), daytime, "BC is not supported"},
		{"alimtalk buttons with variables", at(func(j *job.Job, r *job.Recipient) {
			r.Content, r.Variables = "", map[string]string{"a": "b"}
			r.Buttons = []job.Button{{Type: "MD", Name: "문의"}}
		}), daytime, "buttons: not sent with template variables"},
		{"alimtalk WL without url", at(func(j *job.Job, r *job.Recipient) { r.Buttons = []job.Button{{Type: "WL", Name: "x"}} }), daytime, "url_mobile: required"},
		{"alimtalk ad", at(func(j *job.Job, r *job.Recipient) { j.Ad = true }), daytime, "AlimTalk cannot be an advertisement"},
		{"alimtalk image", at(func(j *job.Job, r *job.Recipient) { r.Image = &job.Image{Seq: ptr[int64](1), Link: "https://x"} }), daytime, "image: not supported"},
		{"alimtalk long template code", at(func(j *job.Job, r *job.Recipient) { j.Template = strings.Repeat("T", 21) }), daytime, "template: 21 characters"},
		{"alimtalk 080", at(func(j *job.Job, r *job.Recipient) {
			j.Failover = &job.Failover{Enabled: job.Bool(true), UnsubscribeNo: "0801234567"}
		}), daytime, "unsubscribe_no"},
		{"alimtalk title", at(func(j *job.Job, r *job.Recipient) { r.Title = "제목" }), daytime, "title: not supported"},
		{"alimtalk item", at(func(j *job.Job, r *job.Recipient) { r.Item = &job.Item{} }), daytime, "item: not supported"},
		{"quick replies", at(func(j *job.Job, r *job.Recipient) { r.QuickReplies = []job.Button{{Type: "WL", Name: "x"}} }), daytime, "quick_replies: not supported"},
		{"price", ft(func(j *job.Job, r *job.Recipient) { r.Price = ptr[int64](1000) }), daytime, "price: not supported"},
		{"currency", ft(func(j *job.Job, r *job.Recipient) { r.Currency = "KRW" }), daytime, "currency: not supported"},
		{"tax codes", ft(func(j *job.Job, r *job.Recipient) { r.TaxCodes = []string{"a"} }), daytime, "tax_codes: not supported"},
		{"chat_extra", ft(func(j *job.Job, r *job.Recipient) { r.Buttons = []job.Button{{Type: "BK", Name: "x", ChatExtra: "e"}} }), daytime, "chat_extra"},
		{"not a mobile number", at(func(j *job.Job, r *job.Recipient) { r.Phone = "0212345678" }), daytime, "phone:"},
		{"foreign number", at(func(j *job.Job, r *job.Recipient) { r.CountryCode = "81" }), daytime, "country_code: 81"},
		{"reserve 30 days ahead", at(func(j *job.Job, r *job.Recipient) { j.ReserveAt = ptr(daytime.Add(30 * 24 * time.Hour)) }), daytime, ""},
		{"reserve 31 days ahead", at(func(j *job.Job, r *job.Recipient) { j.ReserveAt = ptr(daytime.Add(31 * 24 * time.Hour)) }), daytime, "reserve_at"},
		{"reserve in the past", at(func(j *job.Job, r *job.Recipient) { j.ReserveAt = ptr(daytime.Add(-time.Hour)) }), daytime, "in the past"},
		{"resend title of 20", at(func(j *job.Job, r *job.Recipient) { j.Failover = &job.Failover{Title: strings.Repeat("제", 20)} }), daytime, ""},
		{"resend title of 21", at(func(j *job.Job, r *job.Recipient) { j.Failover = &job.Failover{Title: strings.Repeat("제", 21)} }), daytime, "failover.title"},
		{"resend content of 1001", ft(func(j *job.Job, r *job.Recipient) { r.Failover = &job.Failover{Content: strings.Repeat("a", 1001)} }), daytime, "failover.content"},
		{"resend number of 13 digits", ft(func(j *job.Job, r *job.Recipient) { j.Failover = &job.Failover{From: "0101-2345-67890"} }), daytime, ""},
		{"resend number of 14 digits", ft(func(j *job.Job, r *job.Recipient) { j.Failover = &job.Failover{From: "01012345678901"} }), daytime, "failover.from"},
		{"friendtalk text", ft(none), daytime, ""},
		{"friendtalk variables only", ft(func(j *job.Job, r *job.Recipient) { r.Content, r.Variables = "", map[string]string{"a": "b"} }), daytime, "content: required for FriendTalk"},
		{"friendtalk 1000 characters", ft(func(j *job.Job, r *job.Recipient) { r.Content = strings.Repeat("가", 1000) }), daytime, ""},
		{"friendtalk 1001 characters", ft(func(j *job.Job, r *job.Recipient) { r.Content = strings.Repeat("가", 1001) }), daytime, "content: 1001 characters"},
		{"friendtalk image 400 characters", ft(func(j *job.Job, r *job.Recipient) {
			r.Content, r.Image = strings.Repeat("가", 400), &job.Image{Seq: ptr[int64](1), Link: "https://x"}
		}), daytime, ""},
		{"friendtalk image 401 characters", ft(func(j *job.Job, r *job.Recipient) {
			r.Content, r.Image = strings.Repeat("가", 401), &job.Image{Seq: ptr[int64](1), Link: "https://x"}
		}), daytime, "at most 400"},
		{"friendtalk image without link", ft(func(j *job.Job, r *job.Recipient) { r.Image = &job.Image{Seq: ptr[int64](1)} }), daytime, "image.link: required"},
		{"friendtalk image url", ft(func(j *job.Job, r *job.Recipient) { r.Image = &job.Image{URL: "https://x/i.png"} }), daytime, "image.url"},
		{"friendtalk DS button", ft(func(j *job.Job, r *job.Recipient) { r.Buttons = []job.Button{{Type: "DS", Name: "배송"}} }), daytime, "DS is not supported"},
		{"friendtalk AC button", ft(func(j *job.Job, r *job.Recipient) { r.Buttons = []job.Button{{Type: "AC", Name: "채널 추가"}} }), daytime, "AC is not supported"},
		{"friendtalk template", ft(func(j *job.Job, r *job.Recipient) { j.Template = "T" }), daytime, "FriendTalk has no template"},
		{"friendtalk title", ft(func(j *job.Job, r *job.Recipient) { r.Title = "제목" }), daytime, "title: not supported"},
		{"friendtalk header", ft(func(j *job.Job, r *job.Recipient) { r.Header = "헤더" }), daytime, "header: not supported"},
		{"friendtalk item highlight", ft(func(j *job.Job, r *job.Recipient) { r.ItemHighlight = &job.Pair{Title: "a", Description: "b"} }), daytime, "item_highlight: not supported"},
		{"friendtalk long plusFriendId", ft(func(j *job.Job, r *job.Recipient) { j.Sender = "@" + strings.Repeat("x", 30) }), daytime, "plusFriendId"},
		{"friendtalk ad by day", ft(func(j *job.Job, r *job.Recipient) { j.Ad = true }), daytime, ""},
		{"friendtalk ad at night", ft(func(j *job.Job, r *job.Recipient) { j.Ad = true }), night, "20:50-08:00"},
		{"friendtalk ad reserved for the night", ft(func(j *job.Job, r *job.Recipient) {
			j.Ad, j.ReserveAt = true, ptr(time.Date(2026, 6, 21, 7, 59, 0, 0, time.FixedZone("KST", 9*3600)))
		}), daytime, "20:50-08:00"},
		{"friendtalk ad reserved for the day, sent at night", ft(func(j *job.Job, r *job.Recipient) {
			j.Ad, j.ReserveAt = true, ptr(time.Date(2026, 6, 21, 8, 0, 0, 0, time.FixedZone("KST", 9*3600)))
		}), night, ""},
		{"friendtalk info at night", ft(none), night, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, "http://nhn.test")
			c.now = func() time.Time { return tc.now }
			j := tc.job
			err := c.Check(&providers.Message{Job: j, Index: 0, Recipient: &j.Recipients[0], Attempt: 1})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Check = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestOutcomesMapping(t *testing.T) {
	t.Parallel()
	sent := []sentRecipient{{"01000000000", "job/0"}, {"01000000001", "job/1"}, {"01000000002", "job/2"}}
	ok := func(seq int, no, key string, code int) sendResult {
		return sendResult{RecipientSeq: seq, RecipientNo: no, ResultCode: code, RecipientGroupingKey: key}
	}
	success := &responseHeader{ResultCode: 0, ResultMessage: "SUCCESS", IsSuccessful: true}
	A, P, R, U := providers.Accepted, providers.Permanent, providers.Retryable, providers.Unknown
	for _, tc := range []struct {
		name    string
		header  *responseHeader
		results []sendResult
		want    []providers.Class // nil: a whole-request error
		errWant providers.Class
	}{
		{"in order", success, []sendResult{ok(1, "01000000000", "job/0", 0), ok(2, "01000000001", "job/1", 0), ok(3, "01000000002", "job/2", 0)}, []providers.Class{A, A, A}, 0},
		{"shuffled, matched by grouping key", success, []sendResult{ok(3, "01000000002", "job/2", -9999), ok(1, "01000000000", "job/0", 0), ok(2, "01000000001", "job/1", -2018)}, []providers.Class{A, P, R}, 0},
		{"no grouping keys, matched by seq", success, []sendResult{ok(2, "010-0000-0001", "", -2018), ok(1, "01000000000", "", 0), ok(3, "", "", 0)}, []providers.Class{A, P, A}, 0},
		{"seq names another number", success, []sendResult{ok(1, "01000000001", "", 0), ok(2, "01000000000", "", 0), ok(3, "01000000002", "", 0)}, []providers.Class{U, U, A}, 0},
		{"grouping key with another number", success, []sendResult{ok(1, "01099999999", "job/0", 0), ok(2, "01000000001", "job/1", 0), ok(3, "01000000002", "job/2", 0)}, []providers.Class{U, A, A}, 0},
		{"one missing", success, []sendResult{ok(1, "01000000000", "job/0", 0), ok(3, "01000000002", "job/2", 0)}, []providers.Class{A, U, A}, 0},
		{"one answered twice", success, []sendResult{ok(1, "01000000000", "job/0", 0), ok(1, "01000000000", "job/0", -9999), ok(3, "01000000002", "job/2", 0)}, []providers.Class{U, U, A}, 0},
		{"unknown grouping key and seq out of range", success, []sendResult{ok(1, "01000000000", "other", 0), ok(9, "", "", 0), ok(0, "", "", 0)}, []providers.Class{U, U, U}, 0},
		{"no results", success, nil, nil, U},
		{"failed header decides", &responseHeader{ResultCode: -9999, IsSuccessful: false}, []sendResult{ok(1, "01000000000", "job/0", 0), ok(2, "01000000001", "job/1", 0), ok(3, "01000000002", "job/2", 0)}, nil, R},
		{"all-failed header uses the results", &responseHeader{ResultCode: -1031, IsSuccessful: false}, []sendResult{ok(1, "01000000000", "job/0", -2018), ok(2, "01000000001", "job/1", -9999), ok(3, "01000000002", "job/2", -1019)}, []providers.Class{P, R, P}, 0},
		{"all-failed header without results", &responseHeader{ResultCode: -2999, IsSuccessful: false}, nil, nil, P},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := &sendResponse{Header: tc.header, Message: &responseBody{RequestID: "req-1", SendResults: tc.results}}
			out, err := outcomes(resp, sent)
			if tc.want == nil {
				pe, isPE := err.(*providers.Error)
				if !isPE || pe.Class != tc.errWant {
					t.Fatalf("outcomes = %v, %v; want a %s *providers.Error", out, err, tc.errWant)
				}
				return
			}
			if err != nil {
				t.Fatalf("outcomes: %v", err)
			}
			var got []providers.Class
			for _, o := range out {
				got = append(got, o.Class)
				if o.RequestID != "req-1" {
					t.Errorf("RequestID %q", o.RequestID)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("classes (-want +got):\n%s", d)
			}
		})
	}
}
