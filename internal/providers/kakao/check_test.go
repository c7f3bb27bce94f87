package kakao

import (
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

func TestPhoneNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, phone, country, format, want string
		fails                              bool
	}{
		{name: "national", phone: "01012345678", format: PhoneNational, want: "01012345678"},
		{name: "national with hyphens", phone: "010-1234-5678", format: PhoneNational, want: "01012345678"},
		{name: "national 82 explicit", phone: "010-1234-5678", country: "82", format: PhoneNational, want: "01012345678"},
		{name: "international", phone: "010-1234-5678", format: PhoneInternational, want: "821012345678"},
		{name: "international 10 digits", phone: "0111234567", format: PhoneInternational, want: "82111234567"},
		{name: "other country stays international", phone: "09012345678", country: "81", format: PhoneNational, want: "819012345678"},
		{name: "other country without leading 0", phone: "4155550123", country: "1", format: PhoneInternational, want: "14155550123"},
		{name: "too long with country code", phone: "0123456789012345", country: "998", format: PhoneNational, fails: true},
		{name: "double zero", phone: "0012345678", format: PhoneInternational, fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := PhoneNumber(&job.Recipient{Phone: tc.phone, CountryCode: tc.country}, tc.format)
			if tc.fails {
				if err == nil {
					t.Errorf("PhoneNumber = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("PhoneNumber = %q, %v; want %q", got, err, tc.want)
			}
			if strings.HasPrefix(got, tc.country+"0") && tc.country != "" || strings.HasPrefix(got, "820") {
				t.Errorf("%q is a country code followed by the national 0", got)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	night := time.Date(2026, 11, 10, 21, 0, 0, 0, time.FixedZone("KST", 9*3600))
	long := strings.Repeat("가", 46) // 92 bytes
	for _, tc := range []struct {
		name  string
		kind  job.Kind
		opt   func(*Config)
		now   time.Time
		edit  func(j *job.Job, r *job.Recipient)
		field string // in the error; empty: passes
	}{
		{name: "alimtalk passes", kind: job.AlimTalk},
		{name: "friendtalk passes", kind: job.FriendTalk},
		{name: "variables only", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.Content, r.Variables = "", map[string]string{"name": "홍길동"}
		}, field: "content:"},
		{name: "reserved", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			j.ReserveAt = &at
		}, field: "no reservation field"},
		{name: "reserved and due: the worker held it", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			at := newClock().Now().Add(-time.Second)
			j.ReserveAt = &at
		}},
		{name: "not a mobile", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) { r.Phone = "0212345678" }, field: "phone:"},
		{name: "template too long", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) { j.Template = strings.Repeat("T", 31) }, field: "template:"},
		{name: "sender key too long", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) { j.Sender = strings.Repeat("k", 41) }, field: "sender:"},
		{name: "content too long", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) { r.Content = strings.Repeat("가", 1001) }, field: "content:"},
		{name: "image content too long", kind: job.FriendTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.Image = &job.Image{URL: "https://img.example.com/a.jpg"}
			r.Content = strings.Repeat("가", 401)
		}, field: "content:"},
		{name: "image by seq", kind: job.FriendTalk, edit: func(j *job.Job, r *job.Recipient) { r.Image = &job.Image{Seq: new(int64)} }, field: "image.url:"},
		{name: "image link not http", kind: job.FriendTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.Image = &job.Image{URL: "https://img.example.com/a.jpg", Link: "javascript:alert(1)"}
		}, field: "image.link:"},
		{name: "alimtalk image", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) { r.Image = &job.Image{URL: "https://img.example.com/a.jpg"} }, field: "image:"},
		{name: "alimtalk ad", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) { j.Ad = true }, field: "ad:"},
		{name: "ad friendtalk at night", kind: job.FriendTalk, now: night, edit: func(j *job.Job, r *job.Recipient) { j.Ad = true }, field: "ad:"},
		{name: "informational friendtalk at night", kind: job.FriendTalk, now: night},
		{name: "friendtalk title", kind: job.FriendTalk, edit: func(j *job.Job, r *job.Recipient) { r.Title = "제목" }, field: "title"},
		{name: "friendtalk price", kind: job.FriendTalk, edit: func(j *job.Job, r *job.Recipient) { r.Price = int64p(1) }, field: "price"},
		{name: "price without currency", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) { r.Price = int64p(1000) }, field: "currency"},
		{name: "DS in friendtalk", kind: job.FriendTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.Buttons = []job.Button{{Type: "DS", Name: "배송 조회"}}
		}, field: "buttons[0].type:"},
		{name: "PD button", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.Buttons = []job.Button{{Type: "PD", Name: "플러그인"}}
		}, field: "buttons[0].type:"},
		{name: "WL without url", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.Buttons = []job.Button{{Type: "WL", Name: "열기"}}
		}, field: "url_mobile"},
		{name: "ten quick links", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			for range 10 {
				r.QuickReplies = append(r.QuickReplies, job.Button{Type: "BK", Name: "문의"})
			}
		}},
		{name: "eleven quick links", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			for range 11 {
				r.QuickReplies = append(r.QuickReplies, job.Button{Type: "BK", Name: "문의"})
			}
		}, field: "quick_replies:"},
		{name: "AC quick link", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.QuickReplies = []job.Button{{Type: "BK", Name: "문의"}, {Type: "AC", Name: "채널 추가"}}
		}, field: "quick_replies[1]"},
		{name: "tax code too long", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.TaxCodes = []string{"ok", strings.Repeat("x", 51)}
		}, field: "tax_codes[1]:"},
		{name: "three tax codes", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) { r.TaxCodes = []string{"a", "b", "c"} }, field: "tax_codes:"},
		{name: "no sender_no", kind: job.AlimTalk, opt: func(c *Config) { c.SenderNo = "" }, field: "sender_no:"},
		{name: "sender_no from failover", kind: job.AlimTalk, opt: func(c *Config) { c.SenderNo = "" }, edit: func(j *job.Job, r *job.Recipient) {
			j.Failover = &job.Failover{From: "1588-0000"}
		}},
		{name: "SMS fallback over 90 bytes", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			j.Failover = &job.Failover{Enabled: job.Bool(true), Type: "SMS", Content: long}
		}, field: "failover.content:"},
		{name: "fallback over 90 bytes becomes LMS", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			j.Failover = &job.Failover{Enabled: job.Bool(true), Content: long}
		}},
		{name: "LMS fallback over 2000 bytes", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			j.Failover = &job.Failover{Enabled: job.Bool(true), Type: "LMS", Content: strings.Repeat("가", 1001)}
		}, field: "failover.content:"},
		{name: "fallback from content", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.Content = strings.Repeat("가", 1000)
			r.Failover = &job.Failover{Enabled: job.Bool(true), Type: "LMS"}
		}},
		{name: "item list of one", kind: job.AlimTalk, edit: func(j *job.Job, r *job.Recipient) {
			r.Item = &job.Item{List: []job.Pair{{Title: "a", Description: "b"}}}
		}, field: "item.list:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = newClock().Now()
			}
			c, err := NewClient(spec(t, "", tc.opt), WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			j := alimTalkJob(1)
			if tc.kind == job.FriendTalk {
				j = friendTalkJob(1)
			}
			if tc.edit != nil {
				tc.edit(j, &j.Recipients[0])
			}
			err = c.Check(&providers.Message{Job: j, Recipient: &j.Recipients[0], Attempt: 1})
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("Check: %v, want nil", err)
			case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)):
				t.Errorf("Check: %v, want an error about %q", err, tc.field)
			}
		})
	}
}
