// Package job defines the send job, talkrelay's input, and decodes it from
// the wire. The JSON Schema in schemas/job.v1.schema.json is the contract;
// the types here mirror it field for field.
package job

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/schemas"
)

// Version is the job schema version this package reads and writes.
const Version = 1

// Kind is the message kind.
type Kind string

const (
	AlimTalk   Kind = "alimtalk"
	FriendTalk Kind = "friendtalk"
)

// Priority is the queue a job waits in: urgent jobs overtake the account's
// queued normal jobs. The subject a job is published to decides its queue
// (streams.JobSubjectFor); the field must agree with it.
type Priority string

const (
	PriorityNormal Priority = "normal"
	PriorityUrgent Priority = "urgent"
)

// Job is one send job. Recipients must stay the last field: the campaign
// producer splices rows into the encoded job's recipients array.
type Job struct {
	Version    int             `json:"version"`
	ID         string          `json:"id"`
	Account    string          `json:"account"`
	Kind       Kind            `json:"kind"`
	Priority   Priority        `json:"priority,omitempty"` // absent: normal
	Sender     string          `json:"sender,omitempty"`
	Template   string          `json:"template,omitempty"`
	ReserveAt  *time.Time      `json:"reserve_at,omitempty"`
	Ad         bool            `json:"ad,omitempty"`
	Deadline   *time.Time      `json:"deadline,omitempty"`
	Failover   *Failover       `json:"failover,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	Brand      *Brand          `json:"brand,omitempty"` // brandmessage only
	Recipients []Recipient     `json:"recipients"`
}

// Failover is the SMS/LMS fallback of a job or recipient.
type Failover struct {
	// Enabled is nil when the object does not say: a recipient's failover
	// without it keeps the job's setting (see EffectiveFailover).
	Enabled       *bool  `json:"enabled,omitempty"`
	Type          string `json:"type,omitempty"` // "SMS" or "LMS"
	From          string `json:"from,omitempty"`
	Title         string `json:"title,omitempty"`
	Content       string `json:"content,omitempty"`
	UnsubscribeNo string `json:"unsubscribe_no,omitempty"`
}

// Recipient is one addressee of a job with its per-message fields.
type Recipient struct {
	Ref           string            `json:"ref,omitempty"`
	Phone         string            `json:"phone"`
	CountryCode   string            `json:"country_code,omitempty"`
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

// Pair is a title with a description (item highlight, item list entry, summary).
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

// Error says why bytes are not a valid job. ID is the job's id when it could
// be read, so that a rejection can still be reported against it.
type Error struct {
	ID      string
	Account string
	Kind    string
	Reason  string
	Err     error
}

// Error says what is wrong, with any phone number the schema error quotes
// masked (RedactPhones): the message goes into results, dead letters and
// logs.
func (e *Error) Error() string {
	msg := RedactPhones(fmt.Sprint(e.Err))
	if strings.HasPrefix(msg, e.Reason+": ") { // "not JSON: ..." says its reason itself
		return "invalid job: " + msg
	}
	return "invalid job: " + e.Reason + ": " + msg
}
func (e *Error) Unwrap() error { return e.Err }

// MaxMetadataBytes caps a job's metadata as compact JSON: every result event
// of the job repeats it, and a result must stay far below NATS's
// max_payload (1 MiB by default).
const MaxMetadataBytes = 16 << 10

// Decode reads and validates a job. Any error is a *Error.
func Decode(data []byte) (*Job, error) {
	if j, ok := decodeFast(data); ok {
		return j, nil
	}
	if err := schemas.ValidateJob(data); err != nil {
		e := &Error{Reason: "schema", Err: err}
		var probe struct {
			ID      any `json:"id"`
			Account any `json:"account"`
			Kind    any `json:"kind"`
		}
		if json.Unmarshal(data, &probe) == nil {
			e.ID, _ = probe.ID.(string)
			e.Account, _ = probe.Account.(string)
			e.Kind, _ = probe.Kind.(string)
		} else {
			e.Reason = "not JSON"
		}
		return nil, e
	}
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		// The schema accepted it, so only a value Go cannot hold gets here
		// (an integer beyond int64, say).
		return nil, &Error{Reason: "decode", Err: err}
	}
	return &j, nil
}

// Encode returns the job's wire form.
func (j *Job) Encode() ([]byte, error) {
	if j.Version == 0 {
		j.Version = Version
	}
	return json.Marshal(j)
}

// Urgent reports whether the job is urgent, and so is published to the
// urgent subject (streams.JobSubjectFor). An absent priority is normal.
func (j *Job) Urgent() bool { return j.Priority == PriorityUrgent }

// Digits returns the phone number with hyphens removed.
func (r *Recipient) Digits() string { return strings.ReplaceAll(r.Phone, "-", "") }

// Country returns the recipient's country code, 82 by default.
func (r *Recipient) Country() string {
	if r.CountryCode == "" {
		return "82"
	}
	return r.CountryCode
}

// MaskedPhone returns the phone number with its middle digits hidden, the
// only form in which talkrelay logs or publishes a number.
func (r *Recipient) MaskedPhone() string { return MaskPhone(r.Digits()) }

// MaskPhone hides all but the first three and last four digits of a number.
func MaskPhone(p string) string {
	if len(p) <= 7 {
		return strings.Repeat("*", len(p))
	}
	var b strings.Builder // one allocation: a result event carries it, for every recipient
	b.Grow(len(p))
	b.WriteString(p[:3])
	for range len(p) - 7 {
		b.WriteByte('*')
	}
	b.WriteString(p[len(p)-4:])
	return b.String()
}

// On tells whether failover is enabled: f is set and says enabled: true.
func (f *Failover) On() bool { return f != nil && f.Enabled != nil && *f.Enabled }

// Bool returns a pointer to b, for Failover.Enabled.
func Bool(b bool) *bool { return &b }

// EffectiveFailover merges the recipient's failover fields over the job's:
// each field the recipient's object sets wins, enabled: false included.
func (j *Job) EffectiveFailover(r *Recipient) *Failover {
	if r.Failover == nil {
		return j.Failover
	}
	if j.Failover == nil {
		return r.Failover
	}
	f := *j.Failover
	o := r.Failover
	if o.Enabled != nil {
		f.Enabled = o.Enabled
	}
	for dst, src := range map[*string]string{&f.Type: o.Type, &f.From: o.From, &f.Title: o.Title, &f.Content: o.Content, &f.UnsubscribeNo: o.UnsubscribeNo} {
		if src != "" {
			*dst = src
		}
	}
	return &f
}
