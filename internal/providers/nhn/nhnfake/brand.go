package nhnfake

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The Brand Message API v1.0 (NHN Cloud "Brand Message API v1.0 Guide"):
// POST /brand-message/v1.0/appkeys/{appkey}/freestyle-messages (one
// message of a chatBubbleType for up to 1,000 recipients) and
// /basic-messages (a registered template). The fake's own request shape,
// from the guide's request bodies; pointers tell absent from zero.

type brandLink struct {
	LinkMo        string `json:"linkMo"`
	LinkPc        string `json:"linkPc"`
	SchemeAndroid string `json:"schemeAndroid"`
	SchemeIos     string `json:"schemeIos"`
}

type brandButton struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	LinkMo        string `json:"linkMo"`
	LinkPc        string `json:"linkPc"`
	SchemeAndroid string `json:"schemeAndroid"`
	SchemeIos     string `json:"schemeIos"`
	ChatExtra     string `json:"chatExtra"`
	ChatEvent     string `json:"chatEvent"`
	BizFormKey    string `json:"bizFormKey"`
}

type brandCoupon struct {
	Title         string `json:"title"`
	Description   string `json:"description"`
	LinkMo        string `json:"linkMo"`
	LinkPc        string `json:"linkPc"`
	SchemeAndroid string `json:"schemeAndroid"`
	SchemeIos     string `json:"schemeIos"`
}

type brandCommerce struct {
	Title         string `json:"title"`
	RegularPrice  *int64 `json:"regularPrice"`
	DiscountPrice *int64 `json:"discountPrice"`
	DiscountRate  *int64 `json:"discountRate"`
	DiscountFixed *int64 `json:"discountFixed"`
}

type brandImage struct {
	ImageURL  string `json:"imageUrl"`
	ImageLink string `json:"imageLink"`
}

type brandCard struct {
	Header            string         `json:"header"`
	Message           string         `json:"message"`
	AdditionalContent string         `json:"additionalContent"`
	ImageURL          string         `json:"imageUrl"`
	ImageLink         string         `json:"imageLink"`
	Buttons           []brandButton  `json:"buttons"`
	Coupon            *brandCoupon   `json:"coupon"`
	Commerce          *brandCommerce `json:"commerce"`
}

type brandRecipient struct {
	RecipientNo          string            `json:"recipientNo"`
	Targeting            string            `json:"targeting"`
	TemplateParameter    map[string]string `json:"templateParameter"`
	ResendParameter      *resend           `json:"resendParameter"`
	UnsubscribeNo        string            `json:"unsubscribeNo"`
	RecipientGroupingKey string            `json:"recipientGroupingKey"`
}

type brandRequest struct {
	SenderKey         string      `json:"senderKey"`
	TemplateCode      string      `json:"templateCode"`
	ChatBubbleType    string      `json:"chatBubbleType"`
	PushAlarm         *bool       `json:"pushAlarm"`
	RequestDate       *string     `json:"requestDate"`
	UnsubscribeNo     string      `json:"unsubscribeNo"`
	Adult             *bool       `json:"adult"`
	Content           *string     `json:"content"`
	Header            *string     `json:"header"`
	AdditionalContent *string     `json:"additionalContent"`
	Image             *brandImage `json:"image"`
	Item              *struct {
		List []struct {
			Title    string `json:"title"`
			ImageURL string `json:"imageUrl"`
			brandLink
		} `json:"list"`
	} `json:"item"`
	Video *struct {
		VideoURL     string `json:"videoUrl"`
		ThumbnailURL string `json:"thumbnailUrl"`
	} `json:"video"`
	Commerce *brandCommerce `json:"commerce"`
	Carousel *struct {
		Head *struct {
			Header   string `json:"header"`
			Content  string `json:"content"`
			ImageURL string `json:"imageUrl"`
			brandLink
		} `json:"head"`
		List []brandCard `json:"list"`
		Tail *brandLink  `json:"tail"`
	} `json:"carousel"`
	Buttons           []brandButton    `json:"buttons"`
	Coupon            *brandCoupon     `json:"coupon"`
	RecipientList     []brandRecipient `json:"recipientList"`
	SenderGroupingKey string           `json:"senderGroupingKey"`
}

// request is what take records of a Brand Message request.
func (br *brandRequest) request() request {
	req := request{SenderKey: br.SenderKey, TemplateCode: br.TemplateCode, RequestDate: br.RequestDate,
		SenderGroupingKey: br.SenderGroupingKey, RecipientList: make([]recipient, len(br.RecipientList))}
	for i, rc := range br.RecipientList {
		req.RecipientList[i] = recipient{RecipientNo: rc.RecipientNo, Content: br.Content,
			TemplateParameter: rc.TemplateParameter, ResendParameter: rc.ResendParameter,
			RecipientGroupingKey: rc.RecipientGroupingKey}
	}
	return req
}

// brandFields says, per chatBubbleType, which of content, image, header,
// item, video, commerce, additionalContent, carousel the guide requires
// (r) or allows (o), and its button count.
var brandFields = map[string]struct {
	fields                 string // 8 letters: r, o or - per field in that order
	buttonsMin, buttonsMax int
	contentMax             int
}{
	"TEXT":              {"r-------", 0, 5, 1300},
	"IMAGE":             {"rr------", 0, 5, 1300},
	"WIDE":              {"rr------", 0, 2, 76},
	"WIDE_ITEM_LIST":    {"--rr----", 0, 2, 0},
	"PREMIUM_VIDEO":     {"o-o-r---", 0, 1, 76},
	"COMMERCE":          {"-r---ro-", 1, 2, 0},
	"CAROUSEL_FEED":     {"-------r", 0, 0, 0},
	"CAROUSEL_COMMERCE": {"-------r", 0, 0, 0},
}

// breaches lists how a Brand Message request breaks the guide's rules.
func (br *brandRequest) breaches(op string) []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	runes := utf8.RuneCountInString
	if br.SenderKey == "" || runes(br.SenderKey) > 40 {
		bad("senderKey %q: required, 40 characters", br.SenderKey)
	}
	if d := br.RequestDate; d != nil {
		if _, err := time.Parse("2006-01-02 15:04", *d); err != nil || !requestDateRE.MatchString(*d) {
			bad("requestDate %q is not yyyy-MM-dd HH:mm", *d)
		}
	}
	if n := len(br.RecipientList); n < 1 || n > 1000 {
		bad("recipientList: %d recipients, want 1..1000", n)
	}
	if runes(br.SenderGroupingKey) > 100 {
		bad("senderGroupingKey over 100 characters")
	}
	for i, rc := range br.RecipientList {
		at := func(format string, args ...any) { bad("recipientList[%d]: "+format, append([]any{i}, args...)...) }
		if !digitsRE.MatchString(rc.RecipientNo) || len(rc.RecipientNo) > 15 {
			at("recipientNo %q: digits, at most 15", rc.RecipientNo)
		}
		switch rc.Targeting {
		case "M", "N", "I":
		case "":
			if op == "basic-messages" {
				at("targeting is required")
			}
		default:
			at("targeting %q: M, N or I", rc.Targeting)
		}
		if runes(rc.RecipientGroupingKey) > 100 {
			at("recipientGroupingKey over 100 characters")
		}
		if rc.TemplateParameter != nil && op != "basic-messages" {
			at("templateParameter is a basic-messages field")
		}
		if rp := rc.ResendParameter; rp != nil {
			if rp.ResendType != "" && rp.ResendType != "SMS" && rp.ResendType != "LMS" {
				at("resendType %q", rp.ResendType)
			}
			for _, n := range []string{rp.ResendSendNo, rp.ResendUnsubscribeNo} {
				if n != "" && !digitsRE.MatchString(n) {
					at("resend number %q: digits", n)
				}
			}
		}
	}
	if op == "basic-messages" {
		if br.TemplateCode == "" {
			bad("templateCode is required")
		}
		if br.ChatBubbleType != "" || br.Content != nil || br.Image != nil || br.Item != nil || br.Video != nil ||
			br.Commerce != nil || br.Carousel != nil || br.Buttons != nil || br.Coupon != nil || br.Adult != nil {
			bad("basic-messages takes no message fields: the template holds them")
		}
		return p
	}
	if br.TemplateCode != "" {
		bad("templateCode is a basic-messages field")
	}
	shape, ok := brandFields[br.ChatBubbleType]
	if !ok {
		bad("chatBubbleType %q is not one of the eight", br.ChatBubbleType)
		return p
	}
	has := []bool{br.Content != nil, br.Image != nil, br.Header != nil, br.Item != nil, br.Video != nil,
		br.Commerce != nil, br.AdditionalContent != nil, br.Carousel != nil}
	names := []string{"content", "image", "header", "item", "video", "commerce", "additionalContent", "carousel"}
	for k, h := range has {
		switch c := shape.fields[k]; {
		case h && c == '-':
			bad("%s is not a %s field", names[k], br.ChatBubbleType)
		case !h && c == 'r':
			bad("%s is required for %s", names[k], br.ChatBubbleType)
		}
	}
	if c := br.Content; c != nil && (*c == "" || runes(*c) > shape.contentMax) {
		bad("content: 1..%d characters (%d)", shape.contentMax, runes(*c))
	}
	if h := br.Header; h != nil && (*h == "" || runes(*h) > 20) {
		bad("header: 1..20 characters")
	}
	if a := br.AdditionalContent; a != nil && runes(*a) > 34 {
		bad("additionalContent over 34 characters")
	}
	if im := br.Image; im != nil && im.ImageURL == "" {
		bad("image.imageUrl is required")
	}
	if it := br.Item; it != nil {
		if n := len(it.List); n < 3 || n > 4 {
			bad("item.list: %d items, want 3..4", n)
		}
		for k, e := range it.List {
			max := 30
			if k == 0 {
				max = 25
			} else if e.Title == "" {
				bad("item.list[%d].title is required", k)
			}
			if runes(e.Title) > max || e.ImageURL == "" {
				bad("item.list[%d]: title at most %d characters, imageUrl required", k, max)
			}
		}
	}
	if v := br.Video; v != nil && (v.VideoURL == "" || runes(v.VideoURL) > 500) {
		bad("video.videoUrl: required, at most 500 characters")
	}
	if c := br.Commerce; c != nil {
		p = append(p, commerceBreaches("commerce", c)...)
	}
	couponWide := br.ChatBubbleType == "WIDE" || br.ChatBubbleType == "WIDE_ITEM_LIST" || br.ChatBubbleType == "PREMIUM_VIDEO"
	buttonsMax := shape.buttonsMax
	if br.Coupon != nil && buttonsMax == 5 {
		buttonsMax = 4
	}
	if n := len(br.Buttons); n < shape.buttonsMin || n > buttonsMax {
		bad("buttons: %d, want %d..%d for %s", n, shape.buttonsMin, buttonsMax, br.ChatBubbleType)
	}
	long := br.ChatBubbleType == "TEXT" || br.ChatBubbleType == "IMAGE"
	p = append(p, brandButtonBreaches("buttons", br.Buttons, long)...)
	p = append(p, couponBreaches("coupon", br.Coupon, couponWide)...)
	if c := br.Carousel; c != nil {
		n := len(c.List)
		if c.Head != nil {
			n++
			if br.ChatBubbleType != "CAROUSEL_COMMERCE" {
				bad("carousel.head is a CAROUSEL_COMMERCE field")
			}
			if c.Head.Header == "" || c.Head.Content == "" || c.Head.ImageURL == "" {
				bad("carousel.head: header, content and imageUrl are required")
			}
		}
		if n < 2 || n > 6 {
			bad("carousel: %d cards (head counted), want 2..6", n)
		}
		for k, d := range c.List {
			f := fmt.Sprintf("carousel.list[%d]", k)
			if d.ImageURL == "" {
				bad("%s.imageUrl is required", f)
			}
			if br.ChatBubbleType == "CAROUSEL_FEED" {
				if d.Header == "" || runes(d.Header) > 20 || d.Message == "" || runes(d.Message) > 180 {
					bad("%s: header (1..20) and message (1..180) are required", f)
				}
				if d.Commerce != nil || d.AdditionalContent != "" {
					bad("%s: commerce/additionalContent are CAROUSEL_COMMERCE fields", f)
				}
			} else {
				if d.Commerce == nil {
					bad("%s.commerce is required", f)
				} else {
					p = append(p, commerceBreaches(f+".commerce", d.Commerce)...)
				}
				if d.Header != "" || d.Message != "" {
					bad("%s: header/message are CAROUSEL_FEED fields", f)
				}
			}
			if m := len(d.Buttons); m < 1 || m > 2 {
				bad("%s.buttons: %d, want 1..2", f, m)
			}
			p = append(p, brandButtonBreaches(f+".buttons", d.Buttons, false)...)
			p = append(p, couponBreaches(f+".coupon", d.Coupon, false)...)
		}
	}
	return p
}

func commerceBreaches(f string, c *brandCommerce) []string {
	var p []string
	if c.Title == "" || utf8.RuneCountInString(c.Title) > 30 {
		p = append(p, f+".title: 1..30 characters")
	}
	if c.RegularPrice == nil || *c.RegularPrice < 0 {
		p = append(p, f+".regularPrice: required, not negative")
	}
	return p
}

func couponBreaches(f string, c *brandCoupon, wide bool) []string {
	if c == nil {
		return nil
	}
	max := 12
	if wide {
		max = 18
	}
	if c.Title == "" || c.Description == "" || utf8.RuneCountInString(c.Description) > max || strings.ContainsAny(c.Description, "\r\n") {
		return []string{fmt.Sprintf("%s: title required, description 1..%d characters on one line", f, max)}
	}
	return nil
}

// brandButtonBreaches: the guide's button types (WL, AL, BK, MD, AC, BT,
// BF), names of 14 characters in TEXT and IMAGE and 8 elsewhere, the links
// each type needs.
func brandButtonBreaches(f string, bs []brandButton, long bool) []string {
	var p []string
	max := 8
	if long {
		max = 14
	}
	for k, b := range bs {
		at := fmt.Sprintf("%s[%d]", f, k)
		if !strings.Contains(" WL AL BK MD AC BT BF ", " "+b.Type+" ") {
			p = append(p, fmt.Sprintf("%s.type %q not allowed", at, b.Type))
		}
		if b.Name == "" || utf8.RuneCountInString(b.Name) > max {
			p = append(p, fmt.Sprintf("%s.name %q: required, at most %d characters", at, b.Name, max))
		}
		if b.Type == "WL" && b.LinkMo == "" {
			p = append(p, at+": WL needs linkMo")
		}
		if b.Type == "AL" && (b.SchemeIos == "" || b.SchemeAndroid == "") {
			p = append(p, at+": AL needs schemeIos and schemeAndroid")
		}
		if b.Type == "BF" && b.BizFormKey == "" {
			p = append(p, at+": BF needs bizFormKey")
		}
	}
	return p
}
