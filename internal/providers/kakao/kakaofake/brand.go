package kakaofake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// BrandPath is Kakao i Connect's Brand Message send endpoint (the API
// reference's Brand Message page).
const BrandPath = "/v2/send/kakao/ftupgrade"

// brandTypes are the Brand Message message_types: U_FT text, U_FI image,
// U_FW wide image, U_FL wide list, U_FC carousel feed, U_FP premium video,
// U_FM commerce, U_FA carousel commerce.
var brandTypes = map[string]bool{"U_FT": true, "U_FI": true, "U_FW": true, "U_FL": true, "U_FC": true,
	"U_FP": true, "U_FM": true, "U_FA": true}

type wireBrandLink struct {
	URLMobile     string `json:"url_mobile"`
	URLPC         string `json:"url_pc"`
	SchemeAndroid string `json:"scheme_android"`
	SchemeIOS     string `json:"scheme_ios"`
}

type wireImage struct {
	URL  string `json:"img_url"`
	Link string `json:"img_link"`
}

type wireCommerce struct {
	Title         string `json:"title"`
	RegularPrice  *int64 `json:"regular_price"`
	DiscountPrice *int64 `json:"discount_price"`
	DiscountRate  *int64 `json:"discount_rate"`
	DiscountFixed *int64 `json:"discount_fixed"`
}

type wireCoupon struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	wireBrandLink
}

// wireBrand is the ftupgrade body as the fake knows it. The documented
// fields: message_type, cid (up to 50), sender_key, sender_no (required),
// phone_number, fall_back_yn, message (up to 1,300), template_code (up to
// 100); button as on /v2/send/kakao. The rest (targeting and the bubble
// objects) are the adapter's unconfirmed choice, held to Kakao's Brand
// Message rules.
type wireBrand struct {
	MessageType       string     `json:"message_type"`
	SenderKey         string     `json:"sender_key"`
	CID               string     `json:"cid"`
	TemplateCode      string     `json:"template_code"`
	PhoneNumber       string     `json:"phone_number"`
	SenderNo          string     `json:"sender_no"`
	Message           string     `json:"message"`
	ClientID          string     `json:"client_id"`
	UpgradeTp         string     `json:"upgrade_tp"`
	Targeting         string     `json:"targeting"`
	Header            string     `json:"header"`
	AdditionalContent string     `json:"additional_content"`
	Image             *wireImage `json:"image"`
	Item              *struct {
		List []struct {
			Title  string `json:"title"`
			ImgURL string `json:"img_url"`
			wireBrandLink
		} `json:"list"`
	} `json:"item"`
	Video *struct {
		VideoURL     string `json:"video_url"`
		ThumbnailURL string `json:"thumbnail_url"`
	} `json:"video"`
	Commerce *wireCommerce `json:"commerce"`
	Carousel *struct {
		Head *struct {
			Header  string `json:"header"`
			Content string `json:"content"`
			ImgURL  string `json:"img_url"`
			wireBrandLink
		} `json:"head"`
		List []struct {
			Header            string        `json:"header"`
			Message           string        `json:"message"`
			AdditionalContent string        `json:"additional_content"`
			Image             wireImage     `json:"image"`
			Commerce          *wireCommerce `json:"commerce"`
			Button            []wireLink    `json:"button"`
			Coupon            *wireCoupon   `json:"coupon"`
		} `json:"list"`
		Tail *wireBrandLink `json:"tail"`
	} `json:"carousel"`
	Button        []wireLink  `json:"button"`
	Coupon        *wireCoupon `json:"coupon"`
	FallBackYN    *bool       `json:"fall_back_yn"`
	FallBackType  string      `json:"fall_back_message_type"`
	FallBackTitle string      `json:"fall_back_title"`
	FallBackMsg   string      `json:"fall_back_message"`
}

// decodeSend decodes a send body strictly and lists its breaches; a Brand
// Message comes back as the wireBody fields the fake records.
func decodeSend(raw []byte, pathCID string, brand bool) (wireBody, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if !brand {
		var body wireBody
		err := dec.Decode(&body)
		return body, validate(&body, pathCID), err
	}
	var b wireBrand
	err := dec.Decode(&b)
	body := wireBody{MessageType: b.MessageType, SenderKey: b.SenderKey, CID: b.CID, TemplateCode: b.TemplateCode,
		PhoneNumber: b.PhoneNumber, SenderNo: b.SenderNo, Message: b.Message, ClientID: b.ClientID,
		FallBackYN: b.FallBackYN, FallBackType: b.FallBackType, FallBackMsg: b.FallBackMsg}
	return body, b.validate(), err
}

// BrandBreaches lists how an ftupgrade body breaks the rules the fake
// holds it to, for golden-file tests.
func BrandBreaches(raw []byte) []string {
	_, p, err := decodeSend(raw, "", true)
	if err != nil {
		return []string{err.Error()}
	}
	return p
}

// bubbleOf says which objects each message_type requires (r) or allows
// (o): message, image, header, item, video, commerce, additional_content,
// carousel; and its button range.
var bubbleOf = map[string]struct {
	fields     string
	bmin, bmax int
	messageMax int
}{
	"U_FT": {"r-------", 0, 5, 1300},
	"U_FI": {"rr------", 0, 5, 1300},
	"U_FW": {"rr------", 0, 2, 76},
	"U_FL": {"--rr----", 0, 2, 0},
	"U_FP": {"o-o-r---", 0, 1, 76},
	"U_FM": {"-r---ro-", 1, 2, 0},
	"U_FC": {"-------r", 0, 0, 0},
	"U_FA": {"-------r", 0, 0, 0},
}

func (b *wireBrand) validate() []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	chars := utf8.RuneCountInString
	if !brandTypes[b.MessageType] {
		bad("message_type: %q is not U_FT...U_FA", b.MessageType)
		return errs
	}
	switch {
	case b.SenderKey == "" || chars(b.SenderKey) > 40:
		bad("sender_key: required, at most 40")
	case b.CID == "" || chars(b.CID) > 50:
		bad("cid: required, at most 50")
	case chars(b.TemplateCode) > 100:
		bad("template_code: at most 100")
	case !digitsRE.MatchString(b.PhoneNumber) || len(b.PhoneNumber) > 16 || strings.HasPrefix(b.PhoneNumber, "820"):
		bad("phone_number: %q", b.PhoneNumber)
	case !digitsRE.MatchString(b.SenderNo) || len(b.SenderNo) > 16:
		bad("sender_no: required digits, got %q", b.SenderNo)
	case b.FallBackYN == nil:
		bad("fall_back_yn: required")
	case *b.FallBackYN && (b.FallBackType != "SM" && b.FallBackType != "LM" || b.FallBackMsg == ""):
		bad("fall_back_message_type %q / fall_back_message: required with fall_back_yn", b.FallBackType)
	case b.Targeting != "M" && b.Targeting != "N" && b.Targeting != "I":
		bad("targeting: %q is not M, N or I", b.Targeting)
	}
	shape := bubbleOf[b.MessageType]
	has := []bool{b.Message != "", b.Image != nil, b.Header != "", b.Item != nil, b.Video != nil, b.Commerce != nil,
		b.AdditionalContent != "", b.Carousel != nil}
	names := []string{"message", "image", "header", "item", "video", "commerce", "additional_content", "carousel"}
	for k, h := range has {
		switch c := shape.fields[k]; {
		case h && c == '-':
			bad("%s: not a %s field", names[k], b.MessageType)
		case !h && c == 'r':
			bad("%s: required for %s", names[k], b.MessageType)
		}
	}
	if chars(b.Message) > shape.messageMax && shape.messageMax > 0 {
		bad("message: %d characters > %d", chars(b.Message), shape.messageMax)
	}
	if chars(b.Header) > 20 || chars(b.AdditionalContent) > 34 {
		bad("header (20) or additional_content (34) too long")
	}
	if b.Image != nil && b.Image.URL == "" {
		bad("image.img_url: required")
	}
	if it := b.Item; it != nil && (len(it.List) < 3 || len(it.List) > 4) {
		bad("item.list: %d items, want 3..4", len(it.List))
	}
	if b.Video != nil && b.Video.VideoURL == "" {
		bad("video.video_url: required")
	}
	commerce := func(f string, c *wireCommerce) {
		if c.Title == "" || chars(c.Title) > 30 || c.RegularPrice == nil {
			bad("%s: title (1..30) and regular_price required", f)
		}
	}
	if b.Commerce != nil {
		commerce("commerce", b.Commerce)
	}
	buttonsMax := shape.bmax
	if b.Coupon != nil && buttonsMax == 5 {
		buttonsMax = 4
	}
	if n := len(b.Button); n < shape.bmin || n > buttonsMax {
		bad("button: %d, want %d..%d", n, shape.bmin, buttonsMax)
	}
	nameMax := 8
	if b.MessageType == "U_FT" || b.MessageType == "U_FI" {
		nameMax = 14
	}
	buttons := func(f string, ls []wireLink) {
		for i, l := range ls {
			if l.Name == "" || chars(l.Name) > nameMax || !strings.Contains(" WL AL BK MD AC BT BF ", " "+l.Type+" ") {
				bad("%s[%d]: name (1..%d) and a Brand Message type required", f, i, nameMax)
			}
			if l.Type == "WL" && l.URLMobile == "" {
				bad("%s[%d]: WL needs url_mobile", f, i)
			}
		}
	}
	buttons("button", b.Button)
	if c := b.Carousel; c != nil {
		n := len(c.List)
		if c.Head != nil {
			n++
		}
		if n < 2 || n > 6 {
			bad("carousel: %d cards, want 2..6", n)
		}
		for i, d := range c.List {
			f := fmt.Sprintf("carousel.list[%d]", i)
			if d.Image.URL == "" || len(d.Button) < 1 || len(d.Button) > 2 {
				bad("%s: image.img_url and 1..2 buttons required", f)
			}
			if b.MessageType == "U_FC" && (d.Header == "" || d.Message == "" || chars(d.Message) > 180) {
				bad("%s: header and message (1..180) required", f)
			}
			if b.MessageType == "U_FA" {
				if d.Commerce == nil {
					bad("%s.commerce: required", f)
				} else {
					commerce(f+".commerce", d.Commerce)
				}
			}
			buttons(f+".button", d.Button)
		}
	}
	return errs
}
