package msgcheck

import (
	"fmt"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
)

// Brand Message limits in characters, per bubble type (NHN Cloud's Brand
// Message API v1.0 guide; Kakao's rules, so every provider's).
const (
	brandTextMax         = 1300 // TEXT, IMAGE
	brandWideTextMax     = 76   // WIDE, PREMIUM_VIDEO
	brandHeaderMax       = 20
	brandFirstItemMax    = 25
	brandItemTitleMax    = 30
	brandAdditionalMax   = 34
	brandCardMessageMax  = 180
	brandButtonNameShort = 8 // every bubble but TEXT and IMAGE
	brandCouponDescMax   = 12
	brandCouponWideMax   = 18 // WIDE, WIDE_ITEM_LIST, PREMIUM_VIDEO
	brandCardsMin        = 2  // cards, a head counted
	brandCardsMax        = 6
	// BrandButtonTypes are the button types of a free-form Brand Message:
	// WL web link, AL app link, BK bot keyword, MD message delivery, AC add
	// channel (targeting M or N only), BT bot transfer.
	BrandButtonTypes = "WL AL BK MD AC BT"
)

// What each bubble type has: which fields it requires (req) or allows
// (opt), and its button count.
type bubbleShape struct {
	content, image, header, items, video, commerce, additional, carousel, head field
	buttonsMin, buttonsMax                                                     int
}

type field int

const (
	absent field = iota
	opt
	req
)

var bubbleShapes = map[string]bubbleShape{
	job.BubbleText:             {content: req, buttonsMax: 5},
	job.BubbleImage:            {content: req, image: req, buttonsMax: 5},
	job.BubbleWide:             {content: req, image: req, buttonsMax: 2},
	job.BubbleWideItemList:     {header: req, items: req, buttonsMax: 2},
	job.BubblePremiumVideo:     {content: opt, header: opt, video: req, buttonsMax: 1},
	job.BubbleCommerce:         {image: req, commerce: req, additional: opt, buttonsMin: 1, buttonsMax: 2},
	job.BubbleCarouselFeed:     {carousel: req},
	job.BubbleCarouselCommerce: {carousel: req, head: opt},
}

// Brand checks a brandmessage job's brand object against the shape of its
// bubble type. With a template, the registered template holds the
// message: brand gives only the bubble type, targeting and adult.
func Brand(j *job.Job) error {
	b := j.Brand
	if b == nil {
		return fmt.Errorf("brand: required for a brandmessage")
	}
	shape, ok := bubbleShapes[b.Bubble]
	if !ok {
		return fmt.Errorf("brand.bubble: %q is not a Brand Message bubble type", b.Bubble)
	}
	if j.Template != "" {
		if b.Content != "" || b.Header != "" || b.AdditionalContent != "" || b.Image != nil || b.Video != nil ||
			b.Items != nil || b.Commerce != nil || b.Carousel != nil || b.Buttons != nil || b.Coupon != nil {
			return fmt.Errorf("brand: with a template only bubble, targeting and adult are given (the template holds the message; use recipients' variables)")
		}
		return nil
	}
	for _, f := range []struct {
		name    string
		has     bool
		allowed field
	}{
		{"content", b.Content != "", shape.content},
		{"image", b.Image != nil, shape.image},
		{"header", b.Header != "", shape.header},
		{"items", b.Items != nil, shape.items},
		{"video", b.Video != nil, shape.video},
		{"commerce", b.Commerce != nil, shape.commerce},
		{"additional_content", b.AdditionalContent != "", shape.additional},
		{"carousel", b.Carousel != nil, shape.carousel},
		{"carousel.head", b.Carousel != nil && b.Carousel.Head != nil, shape.head},
	} {
		switch {
		case f.has && f.allowed == absent:
			return fmt.Errorf("brand.%s: not part of a %s bubble", f.name, b.Bubble)
		case !f.has && f.allowed == req:
			return fmt.Errorf("brand.%s: required for a %s bubble", f.name, b.Bubble)
		}
	}
	contentMax := brandTextMax
	if b.Bubble == job.BubbleWide || b.Bubble == job.BubblePremiumVideo {
		contentMax = brandWideTextMax
	}
	if err := Len("brand.content", b.Content, contentMax); err != nil {
		return err
	}
	if err := Len("brand.header", b.Header, brandHeaderMax); err != nil {
		return err
	}
	if err := Len("brand.additional_content", b.AdditionalContent, brandAdditionalMax); err != nil {
		return err
	}
	if err := brandItems(b.Items); err != nil {
		return err
	}
	buttonsMax := shape.buttonsMax
	if b.Coupon != nil && buttonsMax == 5 {
		buttonsMax = 4 // TEXT and IMAGE: a coupon takes a button's place
	}
	if len(b.Buttons) < shape.buttonsMin {
		return fmt.Errorf("brand.buttons: a %s bubble needs at least %d", b.Bubble, shape.buttonsMin)
	}
	if err := brandButtons("brand.buttons", b, b.Buttons, buttonsMax); err != nil {
		return err
	}
	if err := brandCoupon("brand.coupon", b, b.Coupon); err != nil {
		return err
	}
	if b.Carousel != nil {
		return brandCarousel(b)
	}
	return nil
}

func brandItems(items []job.WideItem) error {
	for i, it := range items {
		max := brandItemTitleMax
		if i == 0 {
			max = brandFirstItemMax
		} else if it.Title == "" {
			return fmt.Errorf("brand.items[%d].title: required (only the first item's is optional)", i)
		}
		if err := Len(fmt.Sprintf("brand.items[%d].title", i), it.Title, max); err != nil {
			return err
		}
	}
	return nil
}

// brandButtons checks buttons of b (or of one of its cards): the types a
// free-form Brand Message takes, names of at most 14 characters in TEXT
// and IMAGE and 8 elsewhere, AC only for targeting M or N.
func brandButtons(field string, b *job.Brand, bs []job.Button, max int) error {
	if err := Buttons(field, bs, BrandButtonTypes, max); err != nil {
		return err
	}
	short := b.Bubble != job.BubbleText && b.Bubble != job.BubbleImage
	for i, bt := range bs {
		if short {
			if err := Len(fmt.Sprintf("%s[%d].name", field, i), bt.Name, brandButtonNameShort); err != nil {
				return err
			}
		}
		if bt.Type == "AC" && b.EffectiveTargeting() == job.TargetingI {
			return fmt.Errorf("%s[%d]: an AC (add channel) button needs targeting M or N", field, i)
		}
	}
	return nil
}

func brandCoupon(field string, b *job.Brand, c *job.Coupon) error {
	if c == nil {
		return nil
	}
	max := brandCouponDescMax
	switch b.Bubble {
	case job.BubbleWide, job.BubbleWideItemList, job.BubblePremiumVideo:
		max = brandCouponWideMax
	}
	if strings.ContainsAny(c.Description, "\r\n") {
		return fmt.Errorf("%s.description: no line breaks", field)
	}
	return Len(field+".description", c.Description, max)
}

func brandCarousel(b *job.Brand) error {
	c := b.Carousel
	n := len(c.Cards)
	if c.Head != nil {
		n++
	}
	if n < brandCardsMin || n > brandCardsMax {
		return fmt.Errorf("brand.carousel: %d cards (a head counted), %d to %d allowed", n, brandCardsMin, brandCardsMax)
	}
	feed := b.Bubble == job.BubbleCarouselFeed
	for i := range c.Cards {
		d := &c.Cards[i]
		f := fmt.Sprintf("brand.carousel.cards[%d]", i)
		switch {
		case feed && (d.Header == "" || d.Message == ""):
			return fmt.Errorf("%s: a carousel feed card needs header and message", f)
		case feed && (d.Commerce != nil || d.AdditionalContent != ""):
			return fmt.Errorf("%s: commerce and additional_content belong to carousel commerce cards", f)
		case !feed && d.Commerce == nil:
			return fmt.Errorf("%s.commerce: required on a carousel commerce card", f)
		case !feed && (d.Header != "" || d.Message != ""):
			return fmt.Errorf("%s: header and message belong to carousel feed cards", f)
		case len(d.Buttons) == 0:
			return fmt.Errorf("%s.buttons: a card needs 1 or 2 buttons", f)
		}
		if err := Len(f+".message", d.Message, brandCardMessageMax); err != nil {
			return err
		}
		if err := brandButtons(f+".buttons", b, d.Buttons, 2); err != nil {
			return err
		}
		if err := brandCoupon(f+".coupon", b, d.Coupon); err != nil {
			return err
		}
	}
	return nil
}
