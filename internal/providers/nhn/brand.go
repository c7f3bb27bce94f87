package nhn

import (
	"fmt"
	"net/http"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
)

// Brand Message API v1.0 (NHN Cloud "Brand Message API v1.0 Guide"): a
// request carries one message for up to 1000 recipients, free-form
// (/freestyle-messages, chatBubbleType and the bubble's fields) or from a
// registered template (/basic-messages, templateCode and per-recipient
// templateParameter).

const (
	// brandReserveHorizon: requestDate "can be scheduled up to 60 days in advance".
	brandReserveHorizon = 60 * 24 * time.Hour
	// senderKey "(40 characters)".
	senderKeyMax = 40
)

type brandRequest struct {
	SenderKey         string           `json:"senderKey"`
	TemplateCode      string           `json:"templateCode,omitempty"`
	ChatBubbleType    string           `json:"chatBubbleType,omitempty"`
	RequestDate       string           `json:"requestDate,omitempty"`
	Adult             bool             `json:"adult,omitempty"`
	Content           string           `json:"content,omitempty"`
	Header            string           `json:"header,omitempty"`
	AdditionalContent string           `json:"additionalContent,omitempty"`
	Image             *brandImage      `json:"image,omitempty"`
	Item              *brandItemList   `json:"item,omitempty"`
	Video             *brandVideo      `json:"video,omitempty"`
	Commerce          *brandCommerce   `json:"commerce,omitempty"`
	Carousel          *brandCarousel   `json:"carousel,omitempty"`
	Buttons           []brandButton    `json:"buttons,omitempty"`
	Coupon            *brandCoupon     `json:"coupon,omitempty"`
	RecipientList     []brandRecipient `json:"recipientList"`
	SenderGroupingKey string           `json:"senderGroupingKey,omitempty"`
}

type brandRecipient struct {
	RecipientNo          string            `json:"recipientNo"`
	TemplateParameter    map[string]string `json:"templateParameter,omitempty"`
	ResendParameter      *resendParameter  `json:"resendParameter,omitempty"`
	Targeting            string            `json:"targeting"`
	RecipientGroupingKey string            `json:"recipientGroupingKey,omitempty"`
}

type brandLink struct {
	LinkMo        string `json:"linkMo,omitempty"`
	LinkPc        string `json:"linkPc,omitempty"`
	SchemeAndroid string `json:"schemeAndroid,omitempty"`
	SchemeIos     string `json:"schemeIos,omitempty"`
}

type brandButton struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	brandLink        // inlined
	ChatExtra string `json:"chatExtra,omitempty"`
	ChatEvent string `json:"chatEvent,omitempty"`
}

type brandImage struct {
	ImageURL  string `json:"imageUrl"`
	ImageLink string `json:"imageLink,omitempty"`
}

type brandItemList struct {
	List []brandItem `json:"list"`
}

type brandItem struct {
	Title    string `json:"title,omitempty"`
	ImageURL string `json:"imageUrl"`
	brandLink
}

type brandVideo struct {
	VideoURL     string `json:"videoUrl"`
	ThumbnailURL string `json:"thumbnailUrl,omitempty"`
}

type brandCommerce struct {
	Title         string `json:"title"`
	RegularPrice  int64  `json:"regularPrice"`
	DiscountPrice *int64 `json:"discountPrice,omitempty"`
	DiscountRate  *int64 `json:"discountRate,omitempty"`
	DiscountFixed *int64 `json:"discountFixed,omitempty"`
}

type brandCoupon struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	brandLink
}

type brandCarousel struct {
	Head *brandCarouselHead `json:"head,omitempty"`
	List []brandCard        `json:"list"`
	Tail *brandLink         `json:"tail,omitempty"`
}

type brandCarouselHead struct {
	Header   string `json:"header"`
	Content  string `json:"content"`
	ImageURL string `json:"imageUrl"`
	brandLink
}

type brandCard struct {
	Header            string         `json:"header,omitempty"`
	Message           string         `json:"message,omitempty"`
	AdditionalContent string         `json:"additionalContent,omitempty"`
	ImageURL          string         `json:"imageUrl"`
	ImageLink         string         `json:"imageLink,omitempty"`
	Buttons           []brandButton  `json:"buttons,omitempty"`
	Coupon            *brandCoupon   `json:"coupon,omitempty"`
	Commerce          *brandCommerce `json:"commerce,omitempty"`
}

type brandAPI struct{ ep *endpoints }

// url: /basic-messages for a template, /freestyle-messages otherwise.
func (a brandAPI) url(k providers.Key) string {
	if k.Template != "" {
		return a.ep.brandBasic
	}
	return a.ep.brandFreestyle
}

func (a brandAPI) listURL() string { return a.ep.brandList }

func (brandAPI) header(http.Header) {}

func (brandAPI) body(b *providers.Batch, sent []sentRecipient) ([]byte, error) {
	j := b.Messages[0].Job
	if j.Brand == nil {
		return nil, fmt.Errorf("brand: required for a brandmessage")
	}
	req := brandRequest{
		SenderKey:         b.Key.Sender,
		TemplateCode:      b.Key.Template,
		RequestDate:       requestDate(b.Key),
		SenderGroupingKey: SenderGroupingKey(b),
		RecipientList:     make([]brandRecipient, len(b.Messages)),
	}
	if b.Key.Template == "" {
		freestyle(&req, j.Brand)
	}
	for i := range b.Messages {
		m := &b.Messages[i]
		if m.Job.ID != j.ID {
			return nil, fmt.Errorf("message %d: a Brand Message request holds one job's recipients", i)
		}
		req.RecipientList[i] = brandRecipient{
			RecipientNo:          sent[i].no,
			TemplateParameter:    m.Recipient.Variables,
			ResendParameter:      resend(j.EffectiveFailover(m.Recipient), true),
			Targeting:            j.Brand.EffectiveTargeting(),
			RecipientGroupingKey: sent[i].groupingKey,
		}
	}
	return marshalBody(req)
}

// freestyle fills the free-form fields of req from the job's brand.
func freestyle(req *brandRequest, b *job.Brand) {
	req.ChatBubbleType = b.Bubble
	req.Adult = b.Adult
	req.Content, req.Header, req.AdditionalContent = b.Content, b.Header, b.AdditionalContent
	req.Image = brandImageOf(b.Image)
	if b.Items != nil {
		req.Item = &brandItemList{List: make([]brandItem, len(b.Items))}
		for i, it := range b.Items {
			req.Item.List[i] = brandItem{Title: it.Title, ImageURL: it.ImageURL, brandLink: linkOf(it.Link)}
		}
	}
	if v := b.Video; v != nil {
		req.Video = &brandVideo{VideoURL: v.URL, ThumbnailURL: v.ThumbnailURL}
	}
	req.Commerce = commerceOf(b.Commerce)
	req.Buttons = brandButtons(b.Buttons)
	req.Coupon = couponOf(b.Coupon)
	if c := b.Carousel; c != nil {
		bc := &brandCarousel{List: make([]brandCard, len(c.Cards))}
		if h := c.Head; h != nil {
			bc.Head = &brandCarouselHead{Header: h.Header, Content: h.Content, ImageURL: h.ImageURL, brandLink: linkOf(h.Link)}
		}
		for i, d := range c.Cards {
			bc.List[i] = brandCard{Header: d.Header, Message: d.Message, AdditionalContent: d.AdditionalContent,
				ImageURL: d.Image.URL, ImageLink: d.Image.Link, Buttons: brandButtons(d.Buttons),
				Coupon: couponOf(d.Coupon), Commerce: commerceOf(d.Commerce)}
		}
		if t := c.Tail; t != nil {
			l := linkOf(*t)
			bc.Tail = &l
		}
		req.Carousel = bc
	}
}

func linkOf(l job.Link) brandLink {
	return brandLink{LinkMo: l.URLMobile, LinkPc: l.URLPC, SchemeAndroid: l.SchemeAndroid, SchemeIos: l.SchemeIOS}
}

func brandImageOf(i *job.BrandImage) *brandImage {
	if i == nil {
		return nil
	}
	return &brandImage{ImageURL: i.URL, ImageLink: i.Link}
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

// brandButtons maps buttons as they are (no ordering field: the list's
// order is the buttons' order).
func brandButtons(bs []job.Button) []brandButton {
	if len(bs) == 0 {
		return nil
	}
	out := make([]brandButton, len(bs))
	for i, b := range bs {
		out[i] = brandButton{Name: b.Name, Type: b.Type, ChatExtra: b.ChatExtra, ChatEvent: b.ChatEvent,
			brandLink: brandLink{LinkMo: b.URLMobile, LinkPc: b.URLPC, SchemeAndroid: b.SchemeAndroid, SchemeIos: b.SchemeIOS}}
	}
	return out
}

// checkBrand is Check for a brandmessage: Kakao's bubble rules
// (msgcheck.Brand), the sender key, the ad night, and recipients that carry nothing of their own but template
// variables.
func (c *Client) checkBrand(j *job.Job, r *job.Recipient, k providers.Key) error {
	if err := msgcheck.Brand(j); err != nil {
		return err
	}
	if err := msgcheck.Len("sender (senderKey)", j.Sender, senderKeyMax); err != nil {
		return err
	}
	switch {
	case r.Content != "":
		return fmt.Errorf("content: a Brand Message's text is the job's brand.content")
	case len(r.Buttons) > 0 || r.Image != nil:
		return fmt.Errorf("buttons, image: a Brand Message's are the job's brand.buttons and brand.image")
	case len(r.Variables) > 0 && j.Template == "":
		return fmt.Errorf("variables: only a template-based Brand Message (with template) takes variables")
	}
	return c.checkAdNight(k, "Brand Messages")
}
