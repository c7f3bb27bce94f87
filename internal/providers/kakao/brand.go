package kakao

import (
	"fmt"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
)

// Brand Message through Kakao i Connect Message: POST
// /v2/send/kakao/ftupgrade (the API reference's Brand Message page), one
// recipient a request like /v2/send/kakao, with message_type U_FT...U_FA.

// DefaultBrandPath is the Brand Message send endpoint.
const DefaultBrandPath = "/v2/send/kakao/ftupgrade"

// BrandTypes maps a bubble type to its message_type.
var BrandTypes = map[string]string{
	job.BubbleText:             "U_FT",
	job.BubbleImage:            "U_FI",
	job.BubbleWide:             "U_FW",
	job.BubbleWideItemList:     "U_FL",
	job.BubbleCarouselFeed:     "U_FC",
	job.BubblePremiumVideo:     "U_FP",
	job.BubbleCommerce:         "U_FM",
	job.BubbleCarouselCommerce: "U_FA",
}

// brandRequest is the JSON body of POST /v2/send/kakao/ftupgrade. The
// reference documents cid (up to 50), sender_key, sender_no, phone_number,
// fall_back_yn, message (up to 1,300), template_code and message_type;
// button follows /v2/send/kakao ("button", flat). The names of targeting
// and of the bubble objects (image, item, video, commerce, carousel,
// coupon, header, additional_content) are not in the reference: they are
// Kakao's Brand Message names in this API's snake_case, unconfirmed (see
// docs/providers/kakao.md).
type brandRequest struct {
	MessageType       string         `json:"message_type"`
	SenderKey         string         `json:"sender_key"`
	CID               string         `json:"cid"`
	PhoneNumber       string         `json:"phone_number"`
	SenderNo          string         `json:"sender_no"`
	Message           string         `json:"message,omitempty"`
	ClientID          string         `json:"client_id,omitempty"`
	Targeting         string         `json:"targeting"`
	Header            string         `json:"header,omitempty"`
	AdditionalContent string         `json:"additional_content,omitempty"`
	Image             *image         `json:"image,omitempty"`
	Item              *brandItems    `json:"item,omitempty"`
	Video             *brandVideo    `json:"video,omitempty"`
	Commerce          *brandCommerce `json:"commerce,omitempty"`
	Carousel          *brandCarousel `json:"carousel,omitempty"`
	Button            []link         `json:"button,omitempty"`
	Coupon            *brandCoupon   `json:"coupon,omitempty"`
	FallBackYN        bool           `json:"fall_back_yn"`
	FallBackType      string         `json:"fall_back_message_type,omitempty"`
	FallBackTitle     string         `json:"fall_back_title,omitempty"`
	FallBackMsg       string         `json:"fall_back_message,omitempty"`
}

type brandLink struct {
	URLMobile     string `json:"url_mobile,omitempty"`
	URLPC         string `json:"url_pc,omitempty"`
	SchemeAndroid string `json:"scheme_android,omitempty"`
	SchemeIOS     string `json:"scheme_ios,omitempty"`
}

type brandItems struct {
	List []brandItem `json:"list"`
}

type brandItem struct {
	Title  string `json:"title,omitempty"`
	ImgURL string `json:"img_url"`
	brandLink
}

type brandVideo struct {
	VideoURL     string `json:"video_url"`
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
}

type brandCommerce struct {
	Title         string `json:"title"`
	RegularPrice  int64  `json:"regular_price"`
	DiscountPrice *int64 `json:"discount_price,omitempty"`
	DiscountRate  *int64 `json:"discount_rate,omitempty"`
	DiscountFixed *int64 `json:"discount_fixed,omitempty"`
}

type brandCoupon struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	brandLink
}

type brandCarousel struct {
	Head *brandHead  `json:"head,omitempty"`
	List []brandCard `json:"list"`
	Tail *brandLink  `json:"tail,omitempty"`
}

type brandHead struct {
	Header  string `json:"header"`
	Content string `json:"content"`
	ImgURL  string `json:"img_url"`
	brandLink
}

type brandCard struct {
	Header            string         `json:"header,omitempty"`
	Message           string         `json:"message,omitempty"`
	AdditionalContent string         `json:"additional_content,omitempty"`
	Image             image          `json:"image"`
	Commerce          *brandCommerce `json:"commerce,omitempty"`
	Button            []link         `json:"button,omitempty"`
	Coupon            *brandCoupon   `json:"coupon,omitempty"`
}

// checkBrand is Check for a brandmessage: Kakao's bubble rules, then what
// this adapter can send through ftupgrade (free-form, sent now, no adult
// flag) and the ad night.
func (c *Client) checkBrand(m *providers.Message) error {
	j, r := m.Job, m.Recipient
	if err := msgcheck.Brand(j); err != nil {
		return err
	}
	switch {
	case j.Template != "":
		return fmt.Errorf("template: template-based Brand Messages are not sent through Kakao i Connect by this adapter (its reference does not say how template variables are passed); send free-form, or through NHN")
	case j.Brand.Adult:
		return fmt.Errorf("brand.adult: Kakao i Connect's Brand Message reference has no adult field")
	case j.ReserveAt != nil:
		return fmt.Errorf("reserve_at: the Kakao Enterprise send API has no reservation field; send the job at the time it should arrive")
	case r.Content != "" || len(r.Variables) > 0 || len(r.Buttons) > 0 || r.Image != nil || len(r.QuickReplies) > 0:
		return fmt.Errorf("content, variables, buttons, image, quick_replies: a Brand Message's text and buttons are the job's brand object")
	case r.Title != "" || r.Header != "" || r.Item != nil || r.ItemHighlight != nil || r.Price != nil || r.Currency != "" || len(r.TaxCodes) > 0:
		return fmt.Errorf("title, header, item, item_highlight, price, currency, tax_codes: AlimTalk fields")
	}
	if err := msgcheck.Len("sender", j.Sender, SenderKeyMax); err != nil {
		return err
	}
	if err := msgcheck.Phone(r); err != nil {
		return err
	}
	if _, err := PhoneNumber(r, c.cfg.PhoneFormat); err != nil {
		return err
	}
	if msgcheck.AdNight(c.now()) {
		return fmt.Errorf("ad: Kakao refuses Brand Messages 20:50-08:00 KST (code 3022); send it after 08:00")
	}
	return c.checkSender(m)
}

// buildBrandRequest maps one brandmessage recipient to the ftupgrade body.
func (c *Client) buildBrandRequest(m *providers.Message, senderKey string) (*brandRequest, error) {
	phone, err := PhoneNumber(m.Recipient, c.cfg.PhoneFormat)
	if err != nil {
		return nil, err
	}
	b := m.Job.Brand
	req := &brandRequest{
		MessageType: BrandTypes[b.Bubble], SenderKey: senderKey, CID: CID(m.Job.ID, m.Index),
		PhoneNumber: phone, SenderNo: c.senderNo(m), Message: b.Content, ClientID: c.cfg.ClientID,
		Targeting: b.EffectiveTargeting(), Header: b.Header, AdditionalContent: b.AdditionalContent,
		Button: links(b.Buttons), Coupon: couponOf(b.Coupon), Commerce: commerceOf(b.Commerce),
	}
	if i := b.Image; i != nil {
		req.Image = &image{URL: i.URL, Link: i.Link}
	}
	if b.Items != nil {
		req.Item = &brandItems{List: make([]brandItem, len(b.Items))}
		for i, it := range b.Items {
			req.Item.List[i] = brandItem{Title: it.Title, ImgURL: it.ImageURL, brandLink: linkOf(it.Link)}
		}
	}
	if v := b.Video; v != nil {
		req.Video = &brandVideo{VideoURL: v.URL, ThumbnailURL: v.ThumbnailURL}
	}
	if cr := b.Carousel; cr != nil {
		bc := &brandCarousel{List: make([]brandCard, len(cr.Cards))}
		if h := cr.Head; h != nil {
			bc.Head = &brandHead{Header: h.Header, Content: h.Content, ImgURL: h.ImageURL, brandLink: linkOf(h.Link)}
		}
		for i, d := range cr.Cards {
			bc.List[i] = brandCard{Header: d.Header, Message: d.Message, AdditionalContent: d.AdditionalContent,
				Image: image{URL: d.Image.URL, Link: d.Image.Link}, Commerce: commerceOf(d.Commerce),
				Button: links(d.Buttons), Coupon: couponOf(d.Coupon)}
		}
		if t := cr.Tail; t != nil {
			l := linkOf(*t)
			bc.Tail = &l
		}
		req.Carousel = bc
	}
	if f := m.Job.EffectiveFailover(m.Recipient); f.On() {
		req.FallBackYN = true
		req.FallBackType, req.FallBackMsg = fallback(m, f)
		req.FallBackTitle = f.Title
	}
	return req, nil
}

func linkOf(l job.Link) brandLink {
	return brandLink{URLMobile: l.URLMobile, URLPC: l.URLPC, SchemeAndroid: l.SchemeAndroid, SchemeIOS: l.SchemeIOS}
}

func commerceOf(c *job.Commerce) *brandCommerce {
	if c == nil {
		return nil
	}
	return &brandCommerce{Title: c.Title, RegularPrice: *c.RegularPrice, DiscountPrice: c.DiscountPrice,
		DiscountRate: c.DiscountRate, DiscountFixed: c.DiscountFixed}
}

func couponOf(c *job.Coupon) *brandCoupon {
	if c == nil {
		return nil
	}
	return &brandCoupon{Title: c.Title, Description: c.Description, brandLink: linkOf(c.Link)}
}
