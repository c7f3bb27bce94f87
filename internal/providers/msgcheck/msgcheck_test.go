package msgcheck

import (
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

func TestLenCountsCharacters(t *testing.T) {
	t.Parallel()
	if err := Len("header", strings.Repeat("가", 16), HeaderMax); err != nil {
		t.Errorf("16 Hangul characters refused for a 16-character field: %v", err)
	}
	if err := Len("header", strings.Repeat("가", 17), HeaderMax); err == nil || !strings.HasPrefix(err.Error(), "header: 17 characters") {
		t.Errorf("17 characters: %v", err)
	}
	// At most max bytes is at most max characters, not counted; one byte
	// more is counted.
	if err := Len("header", strings.Repeat("a", 16), HeaderMax); err != nil {
		t.Errorf("16 ASCII characters: %v", err)
	}
	if err := Len("header", strings.Repeat("a", 17), HeaderMax); err == nil || !strings.HasPrefix(err.Error(), "header: 17 characters") {
		t.Errorf("17 ASCII characters: %v", err)
	}
}

// A valid number, hyphens or not, costs no allocation: this runs for
// every recipient.
func TestPhoneDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Phone(&job.Recipient{Phone: "010-1234-5678"}) }); n != 0 {
		t.Errorf("checking a valid number: %v allocations, want none", n)
	}
}

func TestPhone(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		phone, cc string
		ok        bool
	}{
		{"01012345678", "", true},
		{"010-1234-5678", "82", true},
		{"0-1012345678", "82", true},
		{"01-x012345678", "82", false},
		{"0111234567", "", true},
		{"0212345678", "", false}, // landline
		{"010123", "", false},
		{"0101234567890", "", false},
		{"9012345678", "81", true},
		{"12345", "1", false},
	} {
		err := Phone(&job.Recipient{Phone: tt.phone, CountryCode: tt.cc})
		if (err == nil) != tt.ok {
			t.Errorf("Phone(%q, %q) = %v, want ok=%v", tt.phone, tt.cc, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), tt.phone[3:]) && len(tt.phone) > 7 {
			t.Errorf("error leaks the number: %v", err)
		}
	}
}

func TestContent(t *testing.T) {
	t.Parallel()
	pair := func(a, b string) job.Pair { return job.Pair{Title: a, Description: b} }
	ok := job.Recipient{
		Content: strings.Repeat("가", 1000), Title: strings.Repeat("t", 50), Header: strings.Repeat("h", 16),
		ItemHighlight: &job.Pair{Title: strings.Repeat("x", 30), Description: strings.Repeat("y", 19)},
		Item: &job.Item{List: []job.Pair{pair("abcdef", strings.Repeat("d", 23)), pair("a", "b")},
			Summary: &job.Pair{Title: "Total", Description: "₩24,000.50"}},
	}
	if err := Content(&ok, ContentMax); err != nil {
		t.Fatalf("limits exactly met: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(r *job.Recipient)
		max   int
		field string
	}{
		{"content", func(r *job.Recipient) { r.Content += "가" }, ContentMax, "content"},
		{"content with image", func(r *job.Recipient) { r.Content = strings.Repeat("a", 401) }, ContentWithImageMax, "content"},
		{"title", func(r *job.Recipient) { r.Title += "t" }, ContentMax, "title"},
		{"header", func(r *job.Recipient) { r.Header += "h" }, ContentMax, "header"},
		{"highlight", func(r *job.Recipient) { r.ItemHighlight.Description += "y" }, ContentMax, "item_highlight.description"},
		{"one item", func(r *job.Recipient) { r.Item.List = r.Item.List[:1] }, ContentMax, "item.list"},
		{"eleven items", func(r *job.Recipient) {
			for range 9 {
				r.Item.List = append(r.Item.List, pair("a", "b"))
			}
		}, ContentMax, "item.list"},
		{"item title", func(r *job.Recipient) { r.Item.List[1].Title = "1234567" }, ContentMax, "item.list[1].title"},
		{"summary letters", func(r *job.Recipient) { r.Item.Summary.Description = "about 5" }, ContentMax, "item.summary.description"},
		{"summary 3 decimals", func(r *job.Recipient) { r.Item.Summary.Description = "1.005" }, ContentMax, "item.summary.description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			hl, it := *ok.ItemHighlight, *ok.Item
			it.List = append([]job.Pair(nil), ok.Item.List...)
			s := *ok.Item.Summary
			it.Summary = &s
			r.ItemHighlight, r.Item = &hl, &it
			tt.edit(&r)
			err := Content(&r, tt.max)
			if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
				t.Fatalf("error %v, want one about %s", err, tt.field)
			}
		})
	}
}

func TestButtons(t *testing.T) {
	t.Parallel()
	wl := job.Button{Type: "WL", Name: "Open", URLMobile: "https://m.example.com"}
	tests := []struct {
		name string
		bs   []job.Button
		max  int
		want string // error prefix; "" = valid
	}{
		{"valid", []job.Button{wl, {Type: "DS", Name: "Track"}, {Type: "AL", Name: "App", SchemeIOS: "a://", SchemeAndroid: "a://"}}, ButtonsMax, ""},
		{"too many", []job.Button{wl, wl, wl, wl, wl, wl}, ButtonsMax, "buttons: 6 entries"},
		{"ten quick replies", []job.Button{wl, wl, wl, wl, wl, wl, wl, wl, wl, wl}, QuickRepliesMax, ""},
		{"type not allowed", []job.Button{{Type: "BC", Name: "Chat"}}, ButtonsMax, "buttons[0].type"},
		{"WL without mobile link", []job.Button{{Type: "WL", Name: "x"}}, ButtonsMax, "buttons[0].url_mobile"},
		{"WL with ftp link", []job.Button{{Type: "WL", Name: "x", URLMobile: "ftp://x"}}, ButtonsMax, "buttons[0].url_mobile"},
		{"AL without android", []job.Button{{Type: "AL", Name: "x", SchemeIOS: "a://"}}, ButtonsMax, "buttons[0]:"},
		{"AC with another name", []job.Button{{Type: "AC", Name: "Add"}}, ButtonsMax, "buttons[0].name"},
		{"long name", []job.Button{{Type: "BK", Name: strings.Repeat("n", 15)}}, ButtonsMax, "buttons[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Buttons("buttons", tt.bs, "DS WL AL BK MD AC", tt.max)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestReserve(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	at := func(d time.Duration) providers.Key { return providers.Key{ReserveAt: now.Add(d).Unix()} }
	unread := func() time.Time { t.Error("clock read for a key without a reservation"); return now }
	if err := Reserve(providers.Key{}, unread, time.Hour); err != nil {
		t.Errorf("no reservation: %v", err)
	}
	if err := Reserve(at(30*time.Minute), clock, time.Hour); err != nil {
		t.Errorf("within horizon: %v", err)
	}
	if err := Reserve(at(2*time.Hour), clock, time.Hour); err == nil {
		t.Error("beyond horizon accepted")
	}
	if err := Reserve(at(-2*time.Minute), clock, time.Hour); err == nil {
		t.Error("past reservation accepted")
	}
}

func TestAdNight(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		kst   string
		night bool
	}{{"20:49", false}, {"20:50", true}, {"23:59", true}, {"00:00", true}, {"07:59", true}, {"08:00", false}, {"12:00", false}} {
		tm, _ := time.ParseInLocation("15:04", tt.kst, KST)
		if got := AdNight(tm.AddDate(2026, 0, 0)); got != tt.night {
			t.Errorf("%s KST: night=%v, want %v", tt.kst, got, tt.night)
		}
	}
}

func TestSMSBytes(t *testing.T) {
	t.Parallel()
	if n := SMSBytes("abc 123\n"); n != 8 {
		t.Errorf("ASCII: %d", n)
	}
	if n := SMSBytes("안녕a"); n != 5 {
		t.Errorf("Hangul: %d", n)
	}
}
