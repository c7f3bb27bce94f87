package nhn

import (
	"fmt"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
)

// Limits of NHN's send APIs beyond the shared KakaoTalk ones in msgcheck.
const (
	// AlimTalk /raw-messages content, in characters (NHN Cloud's current documents).
	alimTalkContentMax = 1300
	// requestDate horizon: the FriendTalk v1.5 API guide says 30 days for FriendTalk; the same
	// is applied to AlimTalk (the stricter of what the documents say).
	reserveHorizon      = 30 * 24 * time.Hour
	templateCodeMax     = 20
	plusFriendIDMax     = 30
	resendTitleMax      = 20
	resendContentMax    = 1000
	resendSendNoMax     = 13
	alimTalkButtonTypes = "DS WL AL BK MD AC"
	// FriendTalk v1.5 API guide: WL web link, AL app link, BK bot keyword, MD message delivery.
	friendTalkButtonTypes = "WL AL BK MD"
)

// Check implements providers.Provider.
func (c *Client) Check(m *providers.Message) error {
	if err := c.check(m); err != nil {
		return fmt.Errorf("nhn: %w", err)
	}
	return nil
}

func (c *Client) check(m *providers.Message) error {
	j, r := m.Job, m.Recipient
	if j == nil || r == nil {
		return fmt.Errorf("message has no job or recipient")
	}
	if r.Country() != "82" {
		return fmt.Errorf("country_code: %s is not supported: this adapter sends to Korean numbers only", r.Country())
	}
	if err := msgcheck.Phone(r); err != nil {
		return err
	}
	if err := unsupported(r); err != nil {
		return err
	}
	k := providers.KeyOf(j, r, "")
	horizon := reserveHorizon
	if j.Kind == job.BrandMessage {
		horizon = brandReserveHorizon
	}
	if err := msgcheck.Reserve(k, c.now, horizon); err != nil {
		return err
	}
	var err error
	switch j.Kind {
	case job.AlimTalk:
		err = checkAlimTalk(j, r, k)
	case job.FriendTalk:
		err = c.checkFriendTalk(j, r, k)
	case job.BrandMessage:
		err = c.checkBrand(j, r, k)
	default:
		err = fmt.Errorf("kind: %q is not supported by NHN", j.Kind)
	}
	if err != nil {
		return err
	}
	return checkFailover(j.EffectiveFailover(r), j.Kind)
}

// unsupported rejects the job fields NHN's v2.3/v1.5 send APIs have no
// place for (or that this adapter does not map), rather than drop them.
func unsupported(r *job.Recipient) error {
	switch {
	case len(r.QuickReplies) > 0:
		return fmt.Errorf("quick_replies: not supported by the NHN adapter")
	case r.Price != nil:
		return fmt.Errorf("price: not supported by the NHN adapter (Kakao Enterprise only)")
	case r.Currency != "":
		return fmt.Errorf("currency: not supported by the NHN adapter (Kakao Enterprise only)")
	case len(r.TaxCodes) > 0:
		return fmt.Errorf("tax_codes: not supported by the NHN adapter (Kakao Enterprise only)")
	case r.Title != "":
		return fmt.Errorf("title: not supported by the NHN adapter (an AlimTalk emphasis title comes from the registered template; FriendTalk has none)")
	case r.Header != "":
		return fmt.Errorf("header: not supported by the NHN adapter")
	case r.ItemHighlight != nil:
		return fmt.Errorf("item_highlight: not supported by the NHN adapter")
	case r.Item != nil:
		return fmt.Errorf("item: not supported by the NHN adapter")
	}
	for i, b := range r.Buttons {
		if b.ChatExtra != "" || b.ChatEvent != "" {
			return fmt.Errorf("buttons[%d]: chat_extra and chat_event are not supported by the NHN adapter", i)
		}
	}
	return nil
}

func checkAlimTalk(j *job.Job, r *job.Recipient, k providers.Key) error {
	if err := msgcheck.Len("template", j.Template, templateCodeMax); err != nil {
		return err
	}
	switch {
	case j.Template == "":
		return fmt.Errorf("template: required for AlimTalk")
	case j.Ad:
		return fmt.Errorf("ad: AlimTalk cannot be an advertisement")
	case r.Image != nil:
		return fmt.Errorf("image: not supported for AlimTalk (the template's image is used)")
	}
	if k.Variables {
		// NHN renders the registered template, buttons included; a button
		// of the job would be silently ignored.
		if len(r.Buttons) > 0 {
			return fmt.Errorf("buttons: not sent with template variables (NHN /messages uses the template's own buttons); give the full content instead")
		}
		return nil
	}
	if err := msgcheck.Len("content", r.Content, alimTalkContentMax); err != nil {
		return err
	}
	return msgcheck.Buttons("buttons", r.Buttons, alimTalkButtonTypes, msgcheck.ButtonsMax)
}

func (c *Client) checkFriendTalk(j *job.Job, r *job.Recipient, k providers.Key) error {
	if r.Content == "" {
		return fmt.Errorf("content: required for FriendTalk (template variables are not rendered)")
	}
	if j.Template != "" {
		return fmt.Errorf("template: FriendTalk has no template")
	}
	if err := msgcheck.Len("sender (plusFriendId)", j.Sender, plusFriendIDMax); err != nil {
		return err
	}
	contentMax := msgcheck.ContentMax
	if img := r.Image; img != nil {
		switch {
		case img.URL != "":
			return fmt.Errorf("image.url: not supported by NHN (upload the image and give image.seq)")
		case img.Seq == nil && img.Link != "":
			return fmt.Errorf("image.link: needs image.seq")
		case img.Seq != nil && img.Link == "":
			return fmt.Errorf("image.link: required with image.seq")
		}
		if img.Seq != nil {
			contentMax = msgcheck.ContentWithImageMax
		}
	}
	if err := msgcheck.Content(r, contentMax); err != nil {
		return err
	}
	if err := msgcheck.Buttons("buttons", r.Buttons, friendTalkButtonTypes, msgcheck.ButtonsMax); err != nil {
		return err
	}
	return c.checkAdNight(k, "FriendTalk ads")
}

// checkAdNight refuses an ad sent (or reserved) in Kakao's ad night.
func (c *Client) checkAdNight(k providers.Key, what string) error {
	if !k.Ad {
		return nil
	}
	at, reserved := k.ReserveTime()
	if !reserved {
		at = c.now()
	}
	if msgcheck.AdNight(at) {
		return fmt.Errorf("ad: %s cannot be sent 20:50-08:00 KST (%s)", what, at.In(msgcheck.KST).Format("15:04 MST"))
	}
	return nil
}

func checkFailover(f *job.Failover, kind job.Kind) error {
	if f == nil {
		return nil
	}
	if err := msgcheck.Len("failover.title", f.Title, resendTitleMax); err != nil {
		return err
	}
	if err := msgcheck.Len("failover.content", f.Content, resendContentMax); err != nil {
		return err
	}
	if n := len(digits(f.From)); n > resendSendNoMax {
		return fmt.Errorf("failover.from: %d digits, NHN allows at most %d", n, resendSendNoMax)
	}
	if f.UnsubscribeNo != "" && kind == job.AlimTalk {
		return fmt.Errorf("failover.unsubscribe_no: only FriendTalk and Brand Message have an 080 opt-out number")
	}
	return nil
}
