package nhn

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
)

// requestDateLayout is NHN's requestDate format (yyyy-MM-dd HH:mm, KST).
const requestDateLayout = "2006-01-02 15:04"

// sendAPI is one of NHN's send APIs: how a batch becomes a request.
//
// AlimTalk, FriendTalk v1.5 and Brand Message v1.0 (brand.go) are the
// three there are.
type sendAPI interface {
	// url returns where the batch is posted.
	url(k providers.Key) string
	// listURL returns the API's message list (GET), where Resolve looks
	// up what became of messages sent through it.
	listURL() string
	// header adds the API's own headers.
	header(h http.Header)
	// body builds the request body; sent[i] is what recipientList[i] holds.
	body(b *providers.Batch, sent []sentRecipient) ([]byte, error)
}

// sentRecipient is what a batch message became in recipientList, to match
// NHN's sendResults against.
type sentRecipient struct {
	no          string // recipientNo
	groupingKey string // recipientGroupingKey
}

// button is NHN's button, the same in AlimTalk /raw-messages and FriendTalk v1.5.
type button struct {
	Ordering      int    `json:"ordering"`
	Type          string `json:"type"`
	Name          string `json:"name"`
	LinkMo        string `json:"linkMo,omitempty"`
	LinkPc        string `json:"linkPc,omitempty"`
	SchemeIos     string `json:"schemeIos,omitempty"`
	SchemeAndroid string `json:"schemeAndroid,omitempty"`
}

// resendParameter is the SMS/LMS fallback of one recipient.
type resendParameter struct {
	IsResend      bool   `json:"isResend"`
	ResendType    string `json:"resendType,omitempty"`
	ResendTitle   string `json:"resendTitle,omitempty"`
	ResendContent string `json:"resendContent,omitempty"`
	ResendSendNo  string `json:"resendSendNo,omitempty"`
	// FriendTalk only: the 080 opt-out number ad fallbacks need.
	ResendUnsubscribeNo string `json:"resendUnsubscribeNo,omitempty"`
}

// friendTalkRequest is the body of FriendTalk v1.5 /messages (FriendTalk v1.5 API guide).
type friendTalkRequest struct {
	PlusFriendID      string                `json:"plusFriendId"`
	RequestDate       string                `json:"requestDate,omitempty"`
	SenderGroupingKey string                `json:"senderGroupingKey,omitempty"`
	RecipientList     []friendTalkRecipient `json:"recipientList"`
}

type friendTalkRecipient struct {
	RecipientNo     string           `json:"recipientNo"`
	Content         string           `json:"content"`
	ImageSeq        *int64           `json:"imageSeq,omitempty"`
	ImageLink       string           `json:"imageLink,omitempty"`
	Buttons         []button         `json:"buttons,omitempty"`
	ResendParameter *resendParameter `json:"resendParameter,omitempty"`
	// IsAd is always sent: the API's default is true, and an informational
	// message must never go out as an ad (or the reverse).
	IsAd                 bool   `json:"isAd"`
	RecipientGroupingKey string `json:"recipientGroupingKey,omitempty"`
}

type alimTalkAPI struct{ ep *endpoints }

func (a alimTalkAPI) url(k providers.Key) string {
	if k.Variables {
		return a.ep.alimTalkTemplate
	}
	return a.ep.alimTalkRaw
}

func (a alimTalkAPI) listURL() string { return a.ep.alimTalkList }

func (alimTalkAPI) header(http.Header) {}

// body writes the body of AlimTalk v2.3 /messages and /raw-messages
// (alimtalkbody.go).
func (alimTalkAPI) body(b *providers.Batch, sent []sentRecipient) ([]byte, error) {
	return alimTalkBody(b, sent)
}

type friendTalkAPI struct {
	ep           *endpoints
	convertBrand bool
}

func (f friendTalkAPI) url(providers.Key) string { return f.ep.friendTalk }

func (f friendTalkAPI) listURL() string { return f.ep.friendTalkList }

func (f friendTalkAPI) header(h http.Header) {
	if f.convertBrand {
		h.Set("X-Convert-To-Brand-Message", "true")
	}
}

func (friendTalkAPI) body(b *providers.Batch, sent []sentRecipient) ([]byte, error) {
	req := friendTalkRequest{
		PlusFriendID:      b.Key.Sender,
		RequestDate:       requestDate(b.Key),
		SenderGroupingKey: SenderGroupingKey(b),
		RecipientList:     make([]friendTalkRecipient, len(b.Messages)),
	}
	for i := range b.Messages {
		m := &b.Messages[i]
		r := m.Recipient
		if r.Content == "" {
			return nil, fmt.Errorf("message %d: FriendTalk needs content", i)
		}
		rc := friendTalkRecipient{
			RecipientNo:          sent[i].no,
			Content:              r.Content,
			Buttons:              buttons(r.Buttons),
			ResendParameter:      resend(m.Job.EffectiveFailover(r), true),
			IsAd:                 b.Key.Ad,
			RecipientGroupingKey: sent[i].groupingKey,
		}
		if img := r.Image; img != nil {
			rc.ImageSeq, rc.ImageLink = img.Seq, img.Link
		}
		req.RecipientList[i] = rc
	}
	return marshalBody(req)
}

// marshalBody encodes a request with encoding/json (FriendTalk, Brand
// Message; AlimTalk's, every campaign's, is written by hand).
func marshalBody(req any) ([]byte, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return data, nil
}

// requestDate is the reservation in KST to the minute, or "" to send now
// (NHN sends at once when the field is absent).
func requestDate(k providers.Key) string {
	t, ok := k.ReserveTime()
	if !ok {
		return ""
	}
	return t.In(msgcheck.KST).Format(requestDateLayout)
}

// buttons maps job buttons as they are: Kakao matches them against the
// template character for character, so nothing is trimmed or rewritten.
func buttons(bs []job.Button) []button {
	if len(bs) == 0 {
		return nil
	}
	out := make([]button, len(bs))
	for i, b := range bs {
		out[i] = button{Ordering: i + 1, Type: b.Type, Name: b.Name, LinkMo: b.URLMobile, LinkPc: b.URLPC,
			SchemeIos: b.SchemeIOS, SchemeAndroid: b.SchemeAndroid}
	}
	return out
}

// resend maps a failover to resendParameter. No failover means no
// resendParameter: NHN then applies the sender's console setting. A failover
// that is present but not enabled turns fallback off explicitly.
func resend(f *job.Failover, friendTalk bool) *resendParameter {
	if f == nil {
		return nil
	}
	p := &resendParameter{
		IsResend:      f.On(),
		ResendType:    f.Type,
		ResendTitle:   f.Title,
		ResendContent: f.Content,
		ResendSendNo:  digits(f.From),
	}
	if friendTalk {
		p.ResendUnsubscribeNo = digits(f.UnsubscribeNo)
	}
	return p
}

func digits(s string) string { return strings.ReplaceAll(s, "-", "") }
