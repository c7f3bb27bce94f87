package client

import (
	"encoding/json"
	"time"
)

// Version is the schema version of the jobs and results this package reads
// and writes (schemas/job.v1.schema.json, schemas/result.v1.schema.json).
const Version = 1

// Kind is the message kind of a job.
type Kind string

const (
	AlimTalk   Kind = "alimtalk"
	FriendTalk Kind = "friendtalk"
)

// Priority is the queue a job waits in. Urgent jobs (an OTP, a password
// reset) overtake the account's queued normal jobs; Publish sends them to
// the urgent subject.
type Priority string

const (
	Normal Priority = "normal"
	Urgent Priority = "urgent"
)

// Job is one send job: one message kind sent through one account to one or
// more recipients. It mirrors schemas/job.v1.schema.json field for field.
type Job struct {
	// Version is the schema version; Publish sets it to Version when 0.
	Version int `json:"version"`
	// ID is chosen by the producer and is the idempotency key: a job
	// published twice with the same id within the jobs stream's duplicate
	// window is stored once.
	ID      string `json:"id"`
	Account string `json:"account"`
	Kind    Kind   `json:"kind"`
	// Priority is absent for normal.
	Priority  Priority   `json:"priority,omitempty"`
	Sender    string     `json:"sender,omitempty"`
	Template  string     `json:"template,omitempty"`
	ReserveAt *time.Time `json:"reserve_at,omitempty"`
	Ad        bool       `json:"ad,omitempty"`
	Deadline  *time.Time `json:"deadline,omitempty"`
	Failover  *Failover  `json:"failover,omitempty"`
	// Metadata is a JSON object echoed in every result of the job.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Brand is the message of a BrandMessage job, for all its recipients.
	Brand      *Brand      `json:"brand,omitempty"`
	Recipients []Recipient `json:"recipients"`
}

// Failover is the SMS/LMS fallback of a job or of one recipient.
type Failover struct {
	// Enabled is nil when not said: a recipient's failover then keeps the
	// job's setting.
	Enabled       *bool  `json:"enabled,omitempty"`
	Type          string `json:"type,omitempty"` // "SMS" or "LMS"
	From          string `json:"from,omitempty"`
	Title         string `json:"title,omitempty"`
	Content       string `json:"content,omitempty"`
	UnsubscribeNo string `json:"unsubscribe_no,omitempty"`
}

// Recipient is one addressee of a job with its per-message fields.
type Recipient struct {
	// Ref is the producer's id of the recipient, echoed in its result.
	Ref string `json:"ref,omitempty"`
	// Phone is the number in national format (01012345678 or
	// 010-1234-5678). Results carry it masked only.
	Phone         string            `json:"phone"`
	CountryCode   string            `json:"country_code,omitempty"` // default 82
	Content       string            `json:"content,omitempty"`
	Variables     map[string]string `json:"variables,omitempty"`
	Title         string            `json:"title,omitempty"`
	Header        string            `json:"header,omitempty"`
	ItemHighlight *Pair             `json:"item_highlight,omitempty"`
	Item          *Item             `json:"item,omitempty"`
	Buttons       []Button          `json:"buttons,omitempty"`
	QuickReplies  []Button          `json:"quick_replies,omitempty"`
	Image         *Image            `json:"image,omitempty"`
	Price         *int64            `json:"price,omitempty"`
	Currency      string            `json:"currency,omitempty"`
	TaxCodes      []string          `json:"tax_codes,omitempty"`
	Failover      *Failover         `json:"failover,omitempty"`
}

// Pair is a title with a description (item highlight, item list entry,
// summary).
type Pair struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// Item is the item list of an item-list template.
type Item struct {
	List    []Pair `json:"list"`
	Summary *Pair  `json:"summary,omitempty"`
}

// Button is a message button or a quick reply.
type Button struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	URLMobile     string `json:"url_mobile,omitempty"`
	URLPC         string `json:"url_pc,omitempty"`
	SchemeIOS     string `json:"scheme_ios,omitempty"`
	SchemeAndroid string `json:"scheme_android,omitempty"`
	ChatExtra     string `json:"chat_extra,omitempty"`
	ChatEvent     string `json:"chat_event,omitempty"`
}

// Image is a FriendTalk image.
type Image struct {
	Seq  *int64 `json:"seq,omitempty"`
	URL  string `json:"url,omitempty"`
	Link string `json:"link,omitempty"`
}

// Bool returns a pointer to b, for Failover.Enabled.
func Bool(b bool) *bool { return &b }
