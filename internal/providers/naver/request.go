package naver

import (
	"bytes"
	"strconv"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/jsonw"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// button is a button's fields, as a send writes them (appendMessage) and
// the template query answers them (TemplateButton).
type button struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	LinkMobile    string `json:"linkMobile,omitempty"`
	LinkPc        string `json:"linkPc,omitempty"`
	SchemeIos     string `json:"schemeIos,omitempty"`
	SchemeAndroid string `json:"schemeAndroid,omitempty"`
}

// reserveLayout is the API document's yyyy-MM-dd HH:mm.
const reserveLayout = "2006-01-02 15:04"

// buildRequest writes a batch as the request body: plusFriendId,
// templateCode, messages, then reserveTime and reserveTimeZone for a
// reservation, in this order, byte for byte what encoding/json wrote
// from the same fields (FuzzBuildRequestAgreesWithEncodingJSON), without
// reflection. Text fields are copied as they are: Kakao matches
// templates character for character; <, > and & are not escaped.
func (c *Client) buildRequest(b *providers.Batch) []byte {
	out := make([]byte, 0, requestSize(b))
	out = append(out, `{"plusFriendId":`...)
	out = jsonw.AppendStringNoHTML(out, b.Key.Sender)
	out = append(out, `,"templateCode":`...)
	out = jsonw.AppendStringNoHTML(out, b.Key.Template)
	out = append(out, `,"messages":[`...)
	for i, m := range b.Messages {
		if i > 0 {
			out = append(out, ',')
		}
		out = c.appendMessage(out, m.Job, m.Recipient)
	}
	out = append(out, ']')
	if t, ok := b.Key.ReserveTime(); ok {
		// Minutes only: seconds are dropped (the wire has no place for them).
		out = appendOptional(out, `,"reserveTime":`, reserveTime(t, c.loc))
		out = appendOptional(out, `,"reserveTimeZone":`, c.cfg.ReserveTimeZone)
	}
	return append(out, '}')
}

// requestSize is room for a batch's body: its texts and some for the rest.
func requestSize(b *providers.Batch) int {
	n := 64 + len(b.Key.Sender) + len(b.Key.Template)
	for _, m := range b.Messages {
		r := m.Recipient
		n += 128 + len(r.Content) + len(r.Title) + len(r.Header) + 64*len(r.Buttons)
	}
	return n
}

// appendMessage writes one entry of messages: countryCode, to, title,
// content, headerContent, itemHighlight, item (its list, and its summary
// unless summary_placement is message), summary, buttons, useSmsFailover
// and failoverConfig, the optional ones only when set.
func (c *Client) appendMessage(b []byte, j *job.Job, r *job.Recipient) []byte {
	b = append(b, `{"countryCode":`...)
	b = jsonw.AppendStringNoHTML(b, r.Country())
	b = append(b, `,"to":`...)
	b = appendPhone(b, r.Phone)
	b = appendOptional(b, `,"title":`, r.Title)
	b = append(b, `,"content":`...)
	b = jsonw.AppendStringNoHTML(b, r.Content)
	b = appendOptional(b, `,"headerContent":`, r.Header)
	if h := r.ItemHighlight; h != nil {
		b = appendPair(append(b, `,"itemHighlight":`...), h)
	}
	var summary *job.Pair // in the message, not the item
	if it := r.Item; it != nil {
		b = append(b, `,"item":{"list":[`...)
		for i := range it.List {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPair(b, &it.List[i])
		}
		b = append(b, ']')
		if s := it.Summary; s != nil {
			if c.cfg.SummaryPlacement == SummaryInMessage {
				summary = s
			} else {
				b = appendPair(append(b, `,"summary":`...), s)
			}
		}
		b = append(b, '}')
	}
	if summary != nil {
		b = appendPair(append(b, `,"summary":`...), summary)
	}
	if len(r.Buttons) > 0 {
		b = append(b, `,"buttons":[`...)
		for i := range r.Buttons {
			bt := &r.Buttons[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = jsonw.AppendStringNoHTML(b, bt.Type)
			b = append(b, `,"name":`...)
			b = jsonw.AppendStringNoHTML(b, bt.Name)
			b = appendOptional(b, `,"linkMobile":`, bt.URLMobile)
			b = appendOptional(b, `,"linkPc":`, bt.URLPC)
			b = appendOptional(b, `,"schemeIos":`, bt.SchemeIOS)
			b = appendOptional(b, `,"schemeAndroid":`, bt.SchemeAndroid)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	// Failover: absent in the job means the channel's own setting applies;
	// present, useSmsFailover says yes or no explicitly.
	if f := j.EffectiveFailover(r); f != nil {
		use := f.On()
		b = strconv.AppendBool(append(b, `,"useSmsFailover":`...), use)
		if use && (f.Type != "" || f.From != "" || f.Title != "" || f.Content != "") {
			b = append(b, `,"failoverConfig":`...)
			b = appendFailoverConfig(b, f)
		}
	}
	return append(b, '}')
}

// appendFailoverConfig writes failoverConfig's type, from (digits only),
// subject and content, those that are not empty.
func appendFailoverConfig(b []byte, f *job.Failover) []byte {
	open := len(b)
	b = appendOptional(b, `,"type":`, f.Type)
	b = appendOptional(b, `,"from":`, digits(f.From))
	b = appendOptional(b, `,"subject":`, f.Title)
	b = appendOptional(b, `,"content":`, f.Content)
	if len(b) == open {
		return append(b, '{', '}')
	}
	b[open] = '{' // the first member's comma
	return append(b, '}')
}

// appendPair writes a title and description object.
func appendPair(b []byte, p *job.Pair) []byte {
	b = append(b, `{"title":`...)
	b = jsonw.AppendStringNoHTML(b, p.Title)
	b = append(b, `,"description":`...)
	b = jsonw.AppendStringNoHTML(b, p.Description)
	return append(b, '}')
}

// appendOptional writes a member (key is its comma, name and colon) whose
// value is not empty: an omitempty field.
func appendOptional(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return jsonw.AppendStringNoHTML(append(b, key...), v)
}

// appendPhone writes a number without its hyphens: the digits themselves
// for a number of digits and hyphens (any checked number), anything else
// escaped.
func appendPhone(b []byte, phone string) []byte {
	for i := range len(phone) {
		if c := phone[i]; (c < '0' || c > '9') && c != '-' {
			return jsonw.AppendStringNoHTML(b, digits(phone))
		}
	}
	b = append(b, '"')
	for i := range len(phone) {
		if phone[i] != '-' {
			b = append(b, phone[i])
		}
	}
	return append(b, '"')
}

// digits removes the hyphens of a calling number (the SMS API wants digits).
func digits(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte("-"), nil))
}

// reserveTime writes t as the API document's reserveTime in loc.
func reserveTime(t time.Time, loc *time.Location) string { return t.In(loc).Format(reserveLayout) }
