package job

// The fast path's proof of a brand object: every rule of the schema's
// brand, link, brand_image, commerce and coupon definitions (see fast.go).

var bubbles = map[string]bool{BubbleText: true, BubbleImage: true, BubbleWide: true, BubbleWideItemList: true,
	BubblePremiumVideo: true, BubbleCommerce: true, BubbleCarouselFeed: true, BubbleCarouselCommerce: true}

// optional reports whether s is absent or 1..max characters long.
func optional(s string, max int) bool { return s == "" || runes(s, 1, max) }

func (l *Link) validFast() bool {
	return optional(l.URLMobile, 1000) && optional(l.URLPC, 1000) &&
		optional(l.SchemeAndroid, 1000) && optional(l.SchemeIOS, 1000)
}

func (i *BrandImage) validFast() bool { return runes(i.URL, 1, 1000) && optional(i.Link, 1000) }

func (c *Commerce) validFast() bool {
	nonNegative := func(n *int64) bool { return n == nil || *n >= 0 }
	return runes(c.Title, 1, 30) && c.RegularPrice != nil && *c.RegularPrice >= 0 &&
		nonNegative(c.DiscountPrice) && nonNegative(c.DiscountFixed) &&
		(c.DiscountRate == nil || *c.DiscountRate >= 0 && *c.DiscountRate <= 100)
}

func (c *Coupon) validFast() bool {
	return c.Title != "" && runes(c.Description, 1, 18) && c.Link.validFast()
}

func buttonsFast(bs []Button, min, max int) bool {
	if len(bs) < min || len(bs) > max {
		return false
	}
	for k := range bs {
		if !bs[k].validFast() {
			return false
		}
	}
	return true
}

func (b *Brand) validFast() bool {
	switch {
	case !bubbles[b.Bubble],
		b.Targeting != "" && b.Targeting != TargetingM && b.Targeting != TargetingN && b.Targeting != TargetingI,
		!optional(b.Content, 1300), !optional(b.Header, 20), !optional(b.AdditionalContent, 34),
		b.Image != nil && !b.Image.validFast(),
		b.Video != nil && !(runes(b.Video.URL, 1, 500) && optional(b.Video.ThumbnailURL, 500)),
		b.Items != nil && (len(b.Items) < 3 || len(b.Items) > 4),
		b.Commerce != nil && !b.Commerce.validFast(),
		b.Coupon != nil && !b.Coupon.validFast(),
		!buttonsFast(b.Buttons, 0, 5):
		return false
	}
	for k := range b.Items {
		it := &b.Items[k]
		if !optional(it.Title, 30) || !runes(it.ImageURL, 1, 1000) || !it.Link.validFast() {
			return false
		}
	}
	return b.Carousel == nil || b.Carousel.validFast()
}

func (c *Carousel) validFast() bool {
	if h := c.Head; h != nil && !(runes(h.Header, 1, 20) && runes(h.Content, 1, 50) && runes(h.ImageURL, 1, 1000) && h.Link.validFast()) {
		return false
	}
	if len(c.Cards) < 1 || len(c.Cards) > 6 || c.Tail != nil && !c.Tail.validFast() {
		return false
	}
	for k := range c.Cards {
		d := &c.Cards[k]
		switch {
		case !optional(d.Header, 20), !optional(d.Message, 180), !optional(d.AdditionalContent, 34),
			!d.Image.validFast(),
			d.Commerce != nil && !d.Commerce.validFast(),
			d.Coupon != nil && !d.Coupon.validFast(),
			!buttonsFast(d.Buttons, 1, 2) && d.Buttons != nil:
			return false
		}
	}
	return true
}
