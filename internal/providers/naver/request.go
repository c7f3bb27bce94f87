package naver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// sendRequest is the body of POST .../messages. Field order is the
// encoding order, so bodies are byte-for-byte repeatable (golden files).
type sendRequest struct {
	PlusFriendID    string    `json:"plusFriendId"`
	TemplateCode    string    `json:"templateCode"`
	Messages        []message `json:"messages"`
	ReserveTime     string    `json:"reserveTime,omitempty"`
	ReserveTimeZone string    `json:"reserveTimeZone,omitempty"`
}

type message struct {
	CountryCode    string          `json:"countryCode"`
	To             string          `json:"to"`
	Title          string          `json:"title,omitempty"`
	Content        string          `json:"content"`
	HeaderContent  string          `json:"headerContent,omitempty"`
	ItemHighlight  *pair           `json:"itemHighlight,omitempty"`
	Item           *item           `json:"item,omitempty"`
	Summary        *pair           `json:"summary,omitempty"` // summary_placement: message
	Buttons        []button        `json:"buttons,omitempty"`
	UseSmsFailover *bool           `json:"useSmsFailover,omitempty"`
	FailoverConfig *failoverConfig `json:"failoverConfig,omitempty"`
}

type pair struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

type item struct {
	List    []pair `json:"list"`
	Summary *pair  `json:"summary,omitempty"` // summary_placement: item
}

type button struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	LinkMobile    string `json:"linkMobile,omitempty"`
	LinkPc        string `json:"linkPc,omitempty"`
	SchemeIos     string `json:"schemeIos,omitempty"`
	SchemeAndroid string `json:"schemeAndroid,omitempty"`
}

type failoverConfig struct {
	Type    string `json:"type,omitempty"`
	From    string `json:"from,omitempty"`
	Subject string `json:"subject,omitempty"`
	Content string `json:"content,omitempty"`
}

// reserveLayout is the API document's yyyy-MM-dd HH:mm.
const reserveLayout = "2006-01-02 15:04"

// buildRequest maps a batch to the request body. Text fields are copied
// as they are: Kakao matches templates character for character.
func (c *Client) buildRequest(b *providers.Batch) ([]byte, error) {
	req := sendRequest{
		PlusFriendID: b.Key.Sender,
		TemplateCode: b.Key.Template,
		Messages:     make([]message, 0, len(b.Messages)),
	}
	if t, ok := b.Key.ReserveTime(); ok {
		// Minutes only: seconds are dropped (the wire has no place for them).
		req.ReserveTime = reserveTime(t, c.loc)
		req.ReserveTimeZone = c.cfg.ReserveTimeZone
	}
	for _, m := range b.Messages {
		req.Messages = append(req.Messages, c.buildMessage(m.Job, m.Recipient))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep <, > and & as written
	if err := enc.Encode(req); err != nil {
		return nil, fmt.Errorf("naver: encode request: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (c *Client) buildMessage(j *job.Job, r *job.Recipient) message {
	m := message{
		CountryCode:   r.Country(),
		To:            r.Digits(),
		Title:         r.Title,
		Content:       r.Content,
		HeaderContent: r.Header,
	}
	if h := r.ItemHighlight; h != nil {
		m.ItemHighlight = &pair{Title: h.Title, Description: h.Description}
	}
	if it := r.Item; it != nil {
		m.Item = &item{List: make([]pair, 0, len(it.List))}
		for _, p := range it.List {
			m.Item.List = append(m.Item.List, pair{Title: p.Title, Description: p.Description})
		}
		if s := it.Summary; s != nil {
			sp := &pair{Title: s.Title, Description: s.Description}
			if c.cfg.SummaryPlacement == SummaryInMessage {
				m.Summary = sp
			} else {
				m.Item.Summary = sp
			}
		}
	}
	for _, bt := range r.Buttons {
		m.Buttons = append(m.Buttons, button{
			Type: bt.Type, Name: bt.Name,
			LinkMobile: bt.URLMobile, LinkPc: bt.URLPC,
			SchemeIos: bt.SchemeIOS, SchemeAndroid: bt.SchemeAndroid,
		})
	}
	// Failover: absent in the job means the channel's own setting applies;
	// present, useSmsFailover says yes or no explicitly.
	if f := j.EffectiveFailover(r); f != nil {
		use := f.On()
		m.UseSmsFailover = &use
		if use && (f.Type != "" || f.From != "" || f.Title != "" || f.Content != "") {
			m.FailoverConfig = &failoverConfig{
				Type:    f.Type,
				From:    digits(f.From),
				Subject: f.Title,
				Content: f.Content,
			}
		}
	}
	return m
}

// digits removes the hyphens of a calling number (the SMS API wants digits).
func digits(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte("-"), nil))
}

// reserveTime writes t as the API document's reserveTime in loc.
func reserveTime(t time.Time, loc *time.Location) string { return t.In(loc).Format(reserveLayout) }
