package enqueue

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/internal/job"
)

func TestBuildJob(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 5, 30, 0, 0, time.UTC)
	reserve := time.Date(2026, 11, 21, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	base := func() CLI {
		return CLI{ID: "j1", Account: "sandbox", Kind: "alimtalk", Template: "OTP", To: []string{"01012345678"}, Content: "hello"}
	}
	tests := []struct {
		name    string
		edit    func(*CLI)
		want    *job.Job
		wantErr string
	}{
		{
			name: "simple",
			edit: func(*CLI) {},
			want: &job.Job{Version: 1, ID: "j1", Account: "sandbox", Kind: "alimtalk", Template: "OTP",
				Recipients: []job.Recipient{{Phone: "01012345678", Content: "hello"}}},
		},
		{
			name: "everything",
			edit: func(c *CLI) {
				c.Kind, c.Template, c.Sender, c.Ad = "friendtalk", "", "@shop", true
				c.To = []string{"01012345678", " 010-9876-5432"}
				c.CountryCode, c.Title, c.Header = "82", "Title", "Header"
				c.Var = []string{"code=12=34", "empty="}
				c.ReserveAt, c.Deadline = "2026-11-21T09:00:00+09:00", "2026-11-21T09:00:00+09:00"
				c.Failover, c.FailoverFrom = "lms", "0212345678"
				c.Metadata = `{"order": 7}`
			},
			want: &job.Job{Version: 1, ID: "j1", Account: "sandbox", Kind: "friendtalk", Sender: "@shop", Ad: true,
				ReserveAt: &reserve, Deadline: &reserve,
				Failover: &job.Failover{Enabled: job.Bool(true), Type: "LMS", From: "0212345678"},
				Metadata: []byte(`{"order": 7}`),
				Recipients: []job.Recipient{
					{Phone: "01012345678", CountryCode: "82", Content: "hello", Title: "Title", Header: "Header", Variables: map[string]string{"code": "12=34", "empty": ""}},
					{Phone: "010-9876-5432", CountryCode: "82", Content: "hello", Title: "Title", Header: "Header", Variables: map[string]string{"code": "12=34", "empty": ""}},
				}},
		},
		{
			name: "urgent",
			edit: func(c *CLI) { c.Priority = "urgent" },
			want: &job.Job{Version: 1, ID: "j1", Account: "sandbox", Kind: "alimtalk", Priority: job.PriorityUrgent, Template: "OTP",
				Recipients: []job.Recipient{{Phone: "01012345678", Content: "hello"}}},
		},
		{
			name: "normal, in any case",
			edit: func(c *CLI) { c.Priority = "Normal" },
			want: &job.Job{Version: 1, ID: "j1", Account: "sandbox", Kind: "alimtalk", Priority: job.PriorityNormal, Template: "OTP",
				Recipients: []job.Recipient{{Phone: "01012345678", Content: "hello"}}},
		},
		{name: "bad priority", edit: func(c *CLI) { c.Priority = "high" }, wantErr: `--priority: "high" is not normal or urgent`},
		{name: "alimtalk needs a template", edit: func(c *CLI) { c.Template = "" }, wantErr: "the flags make an invalid job j1: /: missing property 'template'"},
		{name: "no account", edit: func(c *CLI) { c.Account = "" }, wantErr: "--account: required"},
		{name: "no recipient", edit: func(c *CLI) { c.To = nil }, wantErr: "--to: give at least one"},
		{name: "no text", edit: func(c *CLI) { c.Content = "" }, wantErr: "--content or --var"},
		{name: "bad phone is masked", edit: func(c *CLI) { c.To = []string{"0101234567890123456789"} }, wantErr: "'010***************6789' is not a phone number"},
		{name: "bad var", edit: func(c *CLI) { c.Var = []string{"novalue"} }, wantErr: `--var: "novalue" is not NAME=VALUE`},
		{name: "bad time", edit: func(c *CLI) { c.Deadline = "tomorrow" }, wantErr: `--deadline: "tomorrow" is not an RFC 3339 time`},
		{name: "bad failover", edit: func(c *CLI) { c.Failover = "MMS" }, wantErr: `--failover: "MMS"`},
		{name: "failover from alone", edit: func(c *CLI) { c.FailoverFrom = "0212345678" }, wantErr: "--failover-from: needs --failover"},
		{name: "metadata not an object", edit: func(c *CLI) { c.Metadata = "[1]" }, wantErr: "--metadata: not a JSON object"},
		{
			name: "brand message from flags",
			edit: func(c *CLI) {
				c.Kind, c.Template, c.Content = "brandmessage", "", "(광고) 겨울 세일"
				c.Bubble, c.Targeting, c.ImageURL, c.ImageLink = "image", "m", "https://img.example.com/a.jpg", "https://example.com"
				c.Button = []string{"WL,세일 보기,https://m.example.com/sale?a=1,b=2", "BK,쿠폰"}
			},
			want: &job.Job{Version: 1, ID: "j1", Account: "sandbox", Kind: job.BrandMessage, Ad: true,
				Brand: &job.Brand{Bubble: job.BubbleImage, Targeting: job.TargetingM, Content: "(광고) 겨울 세일",
					Image:   &job.BrandImage{URL: "https://img.example.com/a.jpg", Link: "https://example.com"},
					Buttons: []job.Button{{Type: "WL", Name: "세일 보기", URLMobile: "https://m.example.com/sale?a=1,b=2"}, {Type: "BK", Name: "쿠폰"}}},
				Recipients: []job.Recipient{{Phone: "01012345678"}}},
		},
		{
			name: "brand message from --brand JSON, template-based",
			edit: func(c *CLI) {
				c.Kind, c.Template, c.Content, c.Var = "brandmessage", "BM_1", "", []string{"name=Kim"}
				c.Brand = `{"bubble":"WIDE","targeting":"N"}`
			},
			want: &job.Job{Version: 1, ID: "j1", Account: "sandbox", Kind: job.BrandMessage, Template: "BM_1", Ad: true,
				Brand:      &job.Brand{Bubble: job.BubbleWide, Targeting: job.TargetingN},
				Recipients: []job.Recipient{{Phone: "01012345678", Variables: map[string]string{"name": "Kim"}}}},
		},
		{name: "brand flags need brandmessage", edit: func(c *CLI) { c.Bubble = "TEXT" }, wantErr: "only with --kind brandmessage"},
		{name: "brand message needs a bubble", edit: func(c *CLI) { c.Kind, c.Template = "brandmessage", "" }, wantErr: "--bubble: required"},
		{name: "unknown bubble", edit: func(c *CLI) { c.Kind, c.Template, c.Bubble = "brandmessage", "", "BASIC" }, wantErr: "/brand/bubble"},
		{name: "brand JSON with an unknown field", edit: func(c *CLI) { c.Kind, c.Brand = "brandmessage", `{"bubble":"TEXT","colour":1}` }, wantErr: "--brand: not a brand object"},
		{name: "bad button", edit: func(c *CLI) { c.Kind, c.Bubble, c.Button = "brandmessage", "TEXT", []string{"WL"} }, wantErr: `--button: "WL" is not TYPE,NAME[,URL]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base()
			tt.edit(&c)
			got, doc, err := c.buildJob(now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("job (-want +got):\n%s", diff)
			}
			if _, err := job.Decode(doc); err != nil {
				t.Errorf("encoded job: %v", err)
			}
		})
	}

	t.Run("random id", func(t *testing.T) {
		t.Parallel()
		c := base()
		c.ID = ""
		a, _, err := c.buildJob(now)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := c.buildJob(now)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a.ID, "enq-20261121T053000-") || a.ID == b.ID {
			t.Errorf("ids %q and %q", a.ID, b.ID)
		}
	})
}

func TestFlagsModePublishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code, _, stderr := e.run(t, "", "--id", "otp-1", "--account", "nhn-main", "--template", "OTP_CODE",
		"--to", "01012345678,01087654321", "--var", "code=482913", "--var", "minutes=5")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	jobs := e.jobs(t)
	if got := jobIDs(jobs); !slices.Equal(got, []string{"otp-1"}) {
		t.Fatalf("published %q", got)
	}
	if n := len(jobs[0].Recipients); n != 2 {
		t.Errorf("%d recipients, want 2", n)
	}
	if strings.Contains(stderr, "01012345678") {
		t.Errorf("stderr shows a phone number:\n%s", stderr)
	}
	if got, want := e.subjects(t), []string{"talkrelay.jobs.nhn-main.alimtalk"}; !slices.Equal(got, want) {
		t.Errorf("subjects %q, want %q", got, want)
	}
}

func TestFlagsModePublishesUrgentJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code, _, stderr := e.run(t, "", "--id", "otp-2", "--account", "nhn-main", "--template", "OTP_CODE",
		"--to", "01012345678", "--var", "code=482913", "--priority", "urgent")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	jobs := e.jobs(t)
	if len(jobs) != 1 || jobs[0].ID != "otp-2" || jobs[0].Priority != job.PriorityUrgent {
		t.Fatalf("published %+v", jobs)
	}
	if got, want := e.subjects(t), []string{"talkrelay.jobs.nhn-main.alimtalk.urgent"}; !slices.Equal(got, want) {
		t.Errorf("subjects %q, want %q", got, want)
	}
}
