package client

// BrandMessage is Kakao's Brand Message, FriendTalk's successor: one
// advertising message (the job's brand object) to every recipient of the
// job, free-form or from a registered template (the job's template).
const BrandMessage Kind = "brandmessage"

// Bubble types of a Brand Message (NHN chatBubbleType; Kakao i Connect
// message_type U_FT...U_FA).
const (
	BubbleText             = "TEXT"
	BubbleImage            = "IMAGE"
	BubbleWide             = "WIDE"
	BubbleWideItemList     = "WIDE_ITEM_LIST"
	BubblePremiumVideo     = "PREMIUM_VIDEO"
	BubbleCommerce         = "COMMERCE"
	BubbleCarouselFeed     = "CAROUSEL_FEED"
	BubbleCarouselCommerce = "CAROUSEL_COMMERCE"
)

// Targeting codes of a Brand Message: M users who agreed to the sender's
// ads, N those of them who are not channel friends, I channel friends
// among the recipients (the default).
const (
	TargetingM = "M"
	TargetingN = "N"
	TargetingI = "I"
)

// Brand is the message of a brandmessage job, shared by all its
// recipients. With the job's template set, only Bubble and Targeting are
// given: the registered template holds the rest.
type Brand struct {
	Bubble            string      `json:"bubble"`
	Targeting         string      `json:"targeting,omitempty"` // absent: I
	Adult             bool        `json:"adult,omitempty"`
	Content           string      `json:"content,omitempty"`
	Header            string      `json:"header,omitempty"`
	AdditionalContent string      `json:"additional_content,omitempty"`
	Image             *BrandImage `json:"image,omitempty"`
	Video             *Video      `json:"video,omitempty"`
	Items             []WideItem  `json:"items,omitempty"`
	Commerce          *Commerce   `json:"commerce,omitempty"`
	Carousel          *Carousel   `json:"carousel,omitempty"`
	Buttons           []Button    `json:"buttons,omitempty"`
	Coupon            *Coupon     `json:"coupon,omitempty"`
}

// EffectiveTargeting is the brand's targeting, I when absent.
func (b *Brand) EffectiveTargeting() string {
	if b.Targeting == "" {
		return TargetingI
	}
	return b.Targeting
}

// Link is where a tap leads: a web link, an app link, or both.
type Link struct {
	URLMobile     string `json:"url_mobile,omitempty"`
	URLPC         string `json:"url_pc,omitempty"`
	SchemeAndroid string `json:"scheme_android,omitempty"`
	SchemeIOS     string `json:"scheme_ios,omitempty"`
}

// BrandImage is an image uploaded to the provider beforehand (its URL) and
// where a tap on it leads.
type BrandImage struct {
	URL  string `json:"url"`
	Link string `json:"link,omitempty"`
}

// Video is a premium video: a KakaoTV URL and an optional thumbnail.
type Video struct {
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
}

// WideItem is one entry of a wide item list.
type WideItem struct {
	Title    string `json:"title,omitempty"`
	ImageURL string `json:"image_url"`
	Link     `json:",inline"`
}

// Commerce is a product with its price.
type Commerce struct {
	Title         string `json:"title"`
	RegularPrice  int64  `json:"regular_price"`
	DiscountPrice *int64 `json:"discount_price,omitempty"`
	DiscountRate  *int64 `json:"discount_rate,omitempty"`
	DiscountFixed *int64 `json:"discount_fixed,omitempty"`
}

// Coupon is a coupon attached to a message or a carousel card.
type Coupon struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Link        `json:",inline"`
}

// Carousel is the cards of a carousel bubble, with an optional head
// (carousel commerce) and tail ("more" link).
type Carousel struct {
	Head  *CarouselHead `json:"head,omitempty"`
	Cards []Card        `json:"cards"`
	Tail  *Link         `json:"tail,omitempty"`
}

// CarouselHead is the intro card of a carousel commerce.
type CarouselHead struct {
	Header   string `json:"header"`
	Content  string `json:"content"`
	ImageURL string `json:"image_url"`
	Link     `json:",inline"`
}

// Card is one carousel card: header and message (feed) or commerce and
// additional content (commerce), an image and its buttons.
type Card struct {
	Header            string     `json:"header,omitempty"`
	Message           string     `json:"message,omitempty"`
	AdditionalContent string     `json:"additional_content,omitempty"`
	Image             BrandImage `json:"image"`
	Commerce          *Commerce  `json:"commerce,omitempty"`
	Buttons           []Button   `json:"buttons,omitempty"`
	Coupon            *Coupon    `json:"coupon,omitempty"`
}
