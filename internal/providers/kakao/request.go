package kakao

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
)

// Message types (message_type).
const (
	TypeAlimTalk        = "AT"
	TypeFriendTalk      = "FT"
	TypeFriendTalkImage = "FI"
	// TypeFriendTalkWide ("FW") exists but a job cannot say that its image is
	// a wide one, so this adapter never sends it.
	TypeFriendTalkWide = "FW"
)

// Fallback types (fall_back_message_type).
const (
	FallbackSMS = "SM"
	FallbackLMS = "LM"
)

// SMS fallback limits in bytes, Hangul counted as 2 (msgcheck.SMSBytes).
const (
	SMSMaxBytes = 90
	LMSMaxBytes = 2000
)

// sendRequest is the JSON body of POST /v2/send/kakao.
//
// The scalar names are the API reference's. The API reference's tables leave out the property
// names of the array and object fields; the names below are our choice and
// unverified against Kakao Enterprise (see docs/providers/kakao.md):
//   - "button": the name used by third-party clients of this very endpoint
//     (/v2/send/kakao with message_type, sender_key, fall_back_yn), and
//     Kakao's own name for the button array;
//   - "quick_reply", "item" (list, summary), "item_highlight", "image"
//     (img_url, img_link): Kakao's own Bizmessage names, which relays of
//     Kakao's API use unchanged, sent here at the top level as the API reference's
//     flat table suggests;
//   - "ad_flag" (Y/N, FriendTalk only): the name Kakao i Connect Message
//     uses for ad messages on its RCS endpoint and third-party FriendTalk
//     clients of this endpoint send.
type sendRequest struct {
	MessageType   string `json:"message_type"`
	SenderKey     string `json:"sender_key"`
	CID           string `json:"cid"`
	TemplateCode  string `json:"template_code,omitempty"`
	PhoneNumber   string `json:"phone_number"`
	SenderNo      string `json:"sender_no"`
	Message       string `json:"message"`
	ClientID      string `json:"client_id,omitempty"`
	Title         string `json:"title,omitempty"`
	Header        string `json:"header,omitempty"`
	Price         *int64 `json:"price,omitempty"`
	CurrencyType  string `json:"currency_type,omitempty"`
	AdFlag        string `json:"ad_flag,omitempty"`
	Button        []link `json:"button,omitempty"`
	QuickReply    []link `json:"quick_reply,omitempty"`
	Item          *item  `json:"item,omitempty"`
	ItemHighlight *pair  `json:"item_highlight,omitempty"`
	Image         *image `json:"image,omitempty"`
	FallBackYN    bool   `json:"fall_back_yn"`
	FallBackType  string `json:"fall_back_message_type,omitempty"`
	FallBackTitle string `json:"fall_back_title,omitempty"`
	FallBackMsg   string `json:"fall_back_message,omitempty"`
	TaxCd1        string `json:"tax_cd1,omitempty"`
	TaxCd2        string `json:"tax_cd2,omitempty"`
}

// link is a button or a quick link; the API reference documents the same fields for both.
type link struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	URLMobile     string `json:"url_mobile,omitempty"`
	URLPC         string `json:"url_pc,omitempty"`
	SchemeAndroid string `json:"scheme_android,omitempty"`
	SchemeIOS     string `json:"scheme_ios,omitempty"`
	ChatExtra     string `json:"chat_extra,omitempty"`
	ChatEvent     string `json:"chat_event,omitempty"`
}

type pair struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

type item struct {
	List    []pair `json:"list"`
	Summary *pair  `json:"summary,omitempty"`
}

type image struct {
	URL  string `json:"img_url"`
	Link string `json:"img_link,omitempty"`
}

// CIDLen is the length of a hashed cid: 32 hex digits, 128 bits of
// SHA-256, the form of the cids in the API reference's own examples
// (77613652af2d464580796c41cf0d39a3).
const CIDLen = 32

// MaxCIDLen is the API reference's limit on cid.
const MaxCIDLen = 50

// cidSep separates the job id from the index in a decodable cid. Job ids
// never hold it (the job schema's id pattern).
const cidSep = "~"

// CID returns the cid of recipient index of job jobID: our serial for the
// message, the same on every attempt so that Kakao and the result queries
// (search by cid) can tell a resend from a new message. It is
// "<job id>~<index>" when that fits MaxCIDLen, which ParseCID decodes
// back (delivery reports are correlated by it, with nothing stored), and
// HashedCID otherwise.
func CID(jobID string, index int) string {
	if cid := jobID + cidSep + strconv.Itoa(index); len(cid) <= MaxCIDLen && !strings.Contains(jobID, cidSep) {
		return cid
	}
	return HashedCID(jobID, index)
}

// HashedCID is the cid of a job id too long to decode, and every cid
// talkrelay sent before cids were decodable: lookups search for both.
func HashedCID(jobID string, index int) string {
	h := sha256.Sum256([]byte("talkrelay/kakao/cid/v1\x00" + jobID + "\x00" + strconv.Itoa(index)))
	return hex.EncodeToString(h[:])[:CIDLen]
}

// ParseCID decodes a cid CID made in its decodable form; ok is false for
// a hashed cid or one talkrelay did not make.
func ParseCID(cid string) (jobID string, index int, ok bool) {
	i := strings.LastIndex(cid, cidSep)
	if i <= 0 {
		return "", 0, false
	}
	jobID = cid[:i]
	index, err := strconv.Atoi(cid[i+len(cidSep):])
	if err != nil || index < 0 || CID(jobID, index) != cid {
		return "", 0, false
	}
	return jobID, index, true
}

// PhoneNumber formats the recipient's number for phone_number.
//
// National (default): a Korean number as dialled at home, 01012345678.
// International: country code then the number without its one leading 0,
// 821012345678. A number of another country is always sent in the
// international form, which is the only unambiguous one. The result never
// starts with a country code followed by 0 (82010...).
func PhoneNumber(r *job.Recipient, format string) (string, error) {
	d := r.Digits()
	cc := r.Country()
	if format == PhoneNational && cc == "82" {
		return d, nil
	}
	n := strings.TrimPrefix(d, "0")
	if n == "" || n[0] == '0' {
		return "", fmt.Errorf("phone: %s cannot be written with country code %s", job.MaskPhone(d), cc)
	}
	if len(cc+n) > 16 {
		return "", fmt.Errorf("phone: %d digits with country code %s, phone_number takes at most 16", len(cc+n), cc)
	}
	return cc + n, nil
}

// messageType is the message_type for m.
func messageType(m *providers.Message) string {
	if m.Job.Kind == job.AlimTalk {
		return TypeAlimTalk
	}
	if img := m.Recipient.Image; img != nil && img.URL != "" {
		return TypeFriendTalkImage
	}
	return TypeFriendTalk
}

// senderNo returns the calling number for m: the failover from, else the
// account's sender_no, hyphens removed.
func (c *Client) senderNo(m *providers.Message) string {
	s := c.cfg.SenderNo
	if f := m.Job.EffectiveFailover(m.Recipient); f != nil && f.From != "" {
		s = f.From
	}
	return strings.ReplaceAll(s, "-", "")
}

// fallback returns fall_back_message_type and fall_back_message for an
// enabled failover: the job's type, or SMS when the text fits 90 bytes and
// LMS otherwise.
func fallback(m *providers.Message, f *job.Failover) (typ, text string) {
	text = f.Content
	if text == "" {
		text = m.Recipient.Content
	}
	if text == "" && m.Job.Brand != nil {
		text = m.Job.Brand.Content
	}
	switch f.Type {
	case "SMS":
		return FallbackSMS, text
	case "LMS":
		return FallbackLMS, text
	}
	if msgcheck.SMSBytes(text) <= SMSMaxBytes {
		return FallbackSMS, text
	}
	return FallbackLMS, text
}

// buildRequest maps one message to the send body. The message has passed
// Check; senderKey is the batch key's sender.
func (c *Client) buildRequest(m *providers.Message, senderKey string) (*sendRequest, error) {
	r := m.Recipient
	phone, err := PhoneNumber(r, c.cfg.PhoneFormat)
	if err != nil {
		return nil, err
	}
	req := &sendRequest{
		MessageType: messageType(m),
		SenderKey:   senderKey,
		CID:         CID(m.Job.ID, m.Index),
		PhoneNumber: phone,
		SenderNo:    c.senderNo(m),
		// Content goes out exactly as given: Kakao matches it against the
		// template character by character.
		Message:  r.Content,
		ClientID: c.cfg.ClientID,
	}
	if req.MessageType == TypeAlimTalk {
		req.TemplateCode = m.Job.Template
		req.Title = r.Title
		req.Header = r.Header
		req.Price = r.Price
		req.CurrencyType = r.Currency
		if h := r.ItemHighlight; h != nil {
			req.ItemHighlight = &pair{Title: h.Title, Description: h.Description}
		}
		if it := r.Item; it != nil {
			req.Item = &item{List: make([]pair, len(it.List))}
			for i, p := range it.List {
				req.Item.List[i] = pair{Title: p.Title, Description: p.Description}
			}
			if s := it.Summary; s != nil {
				req.Item.Summary = &pair{Title: s.Title, Description: s.Description}
			}
		}
	} else {
		req.AdFlag = "N"
		if m.Job.Ad {
			req.AdFlag = "Y"
		}
		if img := r.Image; img != nil && img.URL != "" {
			req.Image = &image{URL: img.URL, Link: img.Link}
		}
	}
	req.Button = links(r.Buttons)
	req.QuickReply = links(r.QuickReplies)
	if f := m.Job.EffectiveFailover(r); f.On() {
		req.FallBackYN = true
		req.FallBackType, req.FallBackMsg = fallback(m, f)
		req.FallBackTitle = f.Title
	}
	if len(r.TaxCodes) > 0 {
		req.TaxCd1 = r.TaxCodes[0]
	}
	if len(r.TaxCodes) > 1 {
		req.TaxCd2 = r.TaxCodes[1]
	}
	return req, nil
}

func links(bs []job.Button) []link {
	if len(bs) == 0 {
		return nil
	}
	out := make([]link, len(bs))
	for i, b := range bs {
		out[i] = link{Name: b.Name, Type: b.Type, URLMobile: b.URLMobile, URLPC: b.URLPC,
			SchemeAndroid: b.SchemeAndroid, SchemeIOS: b.SchemeIOS, ChatExtra: b.ChatExtra, ChatEvent: b.ChatEvent}
	}
	return out
}
