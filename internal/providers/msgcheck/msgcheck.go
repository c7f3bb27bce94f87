// Package msgcheck holds the KakaoTalk message rules that every provider
// relays from Kakao (the KakaoTalk rules every provider's document repeats):
// text limits counted in characters, item list shapes, button
// fields, phone numbers and reservation horizons. Provider adapters call
// these from their Check and add their own rules.
package msgcheck

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// Limits in characters (runes).
const (
	ContentMax          = 1000
	ContentWithImageMax = 400 // a message with an image
	TitleMax            = 50
	HeaderMax           = 16
	HighlightTitleMax   = 30
	HighlightDescMax    = 19
	// A template with an item highlight image lowers these to 21 and 13;
	// a job cannot say whether its template has one, so the provider is
	// left to refuse (codes 3034/3035) what only that case forbids.
	ItemTitleMax    = 6
	ItemDescMax     = 23
	ItemsMin        = 2
	ItemsMax        = 10
	SummaryTitleMax = 6
	SummaryDescMax  = 14
	ButtonNameMax   = 14
	ButtonsMax      = 5
	QuickRepliesMax = 10
)

// Len checks that field s is at most max characters. A string of at most
// max bytes is not counted: a character is one byte at least.
func Len(field, s string, max int) error {
	if len(s) <= max {
		return nil
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s: %d characters, at most %d allowed", field, n, max)
	}
	return nil
}

// Phone checks a recipient's number: digits only once hyphens are removed,
// and for Korea (82) a mobile number starting with 01.
// It runs for every recipient: the digits are counted, not copied.
func Phone(r *job.Recipient) error {
	n, mobile := 0, true // digits, and whether they start with 01
	for i := 0; i < len(r.Phone); i++ {
		c := r.Phone[i]
		switch {
		case c == '-':
			continue
		case c < '0' || c > '9':
			return fmt.Errorf("phone: not digits")
		case n < 2:
			mobile = mobile && c == "01"[n]
		}
		n++
	}
	if r.Country() == "82" && !(mobile && n >= 10 && n <= 11) {
		return fmt.Errorf("phone: %s is not a Korean mobile number (01X, 10 or 11 digits)", r.MaskedPhone())
	}
	if n < 6 || n > 16 {
		return fmt.Errorf("phone: %d digits, want 6..16", n)
	}
	return nil
}

// summaryRE: currency symbols or ISO 4217 codes, digits, commas, a decimal
// point with at most two places, spaces.
var summaryRE = regexp.MustCompile(`^[\p{Sc}元円원A-Z0-9, ]*(\.[0-9]{1,2})?[\p{Sc}元円원A-Z ]*$`)

// Content checks the message text (at most contentMax characters: usually
// ContentMax, or ContentWithImageMax for a message with an image), the
// emphasised title, the header and the item list fields of r.
func Content(r *job.Recipient, contentMax int) error {
	checks := []error{
		Len("content", r.Content, contentMax),
		Len("title", r.Title, TitleMax),
		Len("header", r.Header, HeaderMax),
	}
	if h := r.ItemHighlight; h != nil {
		checks = append(checks, Len("item_highlight.title", h.Title, HighlightTitleMax),
			Len("item_highlight.description", h.Description, HighlightDescMax))
	}
	if it := r.Item; it != nil {
		if n := len(it.List); n < ItemsMin || n > ItemsMax {
			checks = append(checks, fmt.Errorf("item.list: %d entries, want %d..%d", n, ItemsMin, ItemsMax))
		}
		for i, p := range it.List {
			checks = append(checks, Len(fmt.Sprintf("item.list[%d].title", i), p.Title, ItemTitleMax),
				Len(fmt.Sprintf("item.list[%d].description", i), p.Description, ItemDescMax))
		}
		if s := it.Summary; s != nil {
			checks = append(checks, Len("item.summary.title", s.Title, SummaryTitleMax),
				Len("item.summary.description", s.Description, SummaryDescMax))
			if !summaryRE.MatchString(s.Description) {
				checks = append(checks, fmt.Errorf("item.summary.description: only currency symbols or codes, digits, commas, a decimal point (2 places) and spaces are allowed"))
			}
		}
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// Buttons checks the number of buttons (at most max: ButtonsMax, or
// QuickRepliesMax for quick links), the types allowed (by the provider and
// kind, space separated), names and the links each type requires. field is
// "buttons" or "quick_replies".
func Buttons(field string, bs []job.Button, allowed string, max int) error {
	if len(bs) > max {
		return fmt.Errorf("%s: %d entries, at most %d allowed", field, len(bs), max)
	}
	for i, b := range bs {
		// The entry's name is only built for an error: this runs for every
		// recipient.
		if err := button(b, allowed); err != nil {
			return fmt.Errorf("%s[%d]%w", field, i, err)
		}
	}
	return nil
}

// button checks one button; its errors name the field after the entry's
// name ("[0]" + ".name: ...").
func button(b job.Button, allowed string) error {
	if !strings.Contains(" "+allowed+" ", " "+b.Type+" ") {
		return fmt.Errorf(".type: %s is not supported here (allowed: %s)", b.Type, allowed)
	}
	if err := Len(".name", b.Name, ButtonNameMax); err != nil {
		return err
	}
	switch b.Type {
	case "WL":
		if err := httpURL(".url_mobile", b.URLMobile, true); err != nil {
			return err
		}
		if err := httpURL(".url_pc", b.URLPC, false); err != nil {
			return err
		}
	case "AL":
		if b.SchemeIOS == "" || b.SchemeAndroid == "" {
			return fmt.Errorf(": an AL button needs scheme_ios and scheme_android")
		}
	case "AC":
		if b.Name != "채널 추가" {
			return fmt.Errorf(".name: an AC button's name is fixed to %q", "채널 추가")
		}
	}
	return nil
}

func httpURL(field, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s: required", field)
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: must be an http:// or https:// URL", field)
	}
	return nil
}

// Reserve checks a reservation time: in the future (a minute of slack) and
// at most horizon ahead of now. The clock is read for a reservation only:
// this runs for every recipient.
func Reserve(k providers.Key, clock func() time.Time, horizon time.Duration) error {
	t, ok := k.ReserveTime()
	if !ok {
		return nil
	}
	now := clock()
	if t.Before(now.Add(-time.Minute)) {
		return fmt.Errorf("reserve_at: %s is in the past", t.UTC().Format(time.RFC3339))
	}
	if t.After(now.Add(horizon)) {
		return fmt.Errorf("reserve_at: %s is more than %s ahead", t.UTC().Format(time.RFC3339), horizon)
	}
	return nil
}

// KST is Korea Standard Time, the zone of reservation fields and night rules.
var KST = time.FixedZone("KST", 9*60*60)

// AdNight reports whether t falls in 20:50-08:00 KST, when Kakao refuses ad
// messages (code 3022).
func AdNight(t time.Time) bool {
	k := t.In(KST)
	m := k.Hour()*60 + k.Minute()
	return m >= 20*60+50 || m < 8*60
}

// SMSBytes counts text the way SMS limits do: ASCII as 1 byte, Hangul and
// every other character as 2.
func SMSBytes(s string) int {
	n := 0
	for _, r := range s {
		if r < utf8.RuneSelf {
			n++
		} else {
			n += 2
		}
	}
	return n
}
