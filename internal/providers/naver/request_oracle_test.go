package naver

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// The request body as encoding/json wrote it before buildRequest wrote it
// by hand: the oracle FuzzBuildRequestAgreesWithEncodingJSON holds
// buildRequest to, byte for byte. Field order is the encoding order.
type oracleRequest struct {
	PlusFriendID    string          `json:"plusFriendId"`
	TemplateCode    string          `json:"templateCode"`
	Messages        []oracleMessage `json:"messages"`
	ReserveTime     string          `json:"reserveTime,omitempty"`
	ReserveTimeZone string          `json:"reserveTimeZone,omitempty"`
}

type oracleMessage struct {
	CountryCode    string          `json:"countryCode"`
	To             string          `json:"to"`
	Title          string          `json:"title,omitempty"`
	Content        string          `json:"content"`
	HeaderContent  string          `json:"headerContent,omitempty"`
	ItemHighlight  *oraclePair     `json:"itemHighlight,omitempty"`
	Item           *oracleItem     `json:"item,omitempty"`
	Summary        *oraclePair     `json:"summary,omitempty"` // summary_placement: message
	Buttons        []button        `json:"buttons,omitempty"`
	UseSmsFailover *bool           `json:"useSmsFailover,omitempty"`
	FailoverConfig *oracleFailover `json:"failoverConfig,omitempty"`
}

type oraclePair struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

type oracleItem struct {
	List    []oraclePair `json:"list"`
	Summary *oraclePair  `json:"summary,omitempty"` // summary_placement: item
}

type oracleFailover struct {
	Type    string `json:"type,omitempty"`
	From    string `json:"from,omitempty"`
	Subject string `json:"subject,omitempty"`
	Content string `json:"content,omitempty"`
}

func oracleBody(t testing.TB, c *Client, b *providers.Batch) []byte {
	req := oracleRequest{PlusFriendID: b.Key.Sender, TemplateCode: b.Key.Template, Messages: make([]oracleMessage, 0, len(b.Messages))}
	if t, ok := b.Key.ReserveTime(); ok {
		req.ReserveTime = reserveTime(t, c.loc)
		req.ReserveTimeZone = c.cfg.ReserveTimeZone
	}
	for _, m := range b.Messages {
		j, r := m.Job, m.Recipient
		om := oracleMessage{CountryCode: r.Country(), To: r.Digits(), Title: r.Title, Content: r.Content, HeaderContent: r.Header}
		if h := r.ItemHighlight; h != nil {
			om.ItemHighlight = &oraclePair{Title: h.Title, Description: h.Description}
		}
		if it := r.Item; it != nil {
			om.Item = &oracleItem{List: make([]oraclePair, 0, len(it.List))}
			for _, p := range it.List {
				om.Item.List = append(om.Item.List, oraclePair{Title: p.Title, Description: p.Description})
			}
			if s := it.Summary; s != nil {
				sp := &oraclePair{Title: s.Title, Description: s.Description}
				if c.cfg.SummaryPlacement == SummaryInMessage {
					om.Summary = sp
				} else {
					om.Item.Summary = sp
				}
			}
		}
		for _, bt := range r.Buttons {
			om.Buttons = append(om.Buttons, button{Type: bt.Type, Name: bt.Name, LinkMobile: bt.URLMobile, LinkPc: bt.URLPC,
				SchemeIos: bt.SchemeIOS, SchemeAndroid: bt.SchemeAndroid})
		}
		if f := j.EffectiveFailover(r); f != nil {
			use := f.On()
			om.UseSmsFailover = &use
			if use && (f.Type != "" || f.From != "" || f.Title != "" || f.Content != "") {
				om.FailoverConfig = &oracleFailover{Type: f.Type, From: digits(f.From), Subject: f.Title, Content: f.Content}
			}
		}
		req.Messages = append(req.Messages, om)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(req); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// buildRequest writes what encoding/json wrote from the same fields,
// whatever they hold (escapes, invalid UTF-8, every optional part).
func FuzzBuildRequestAgreesWithEncodingJSON(f *testing.F) {
	f.Add("@talkrelay", "ORDER", "010-1234-5678", "82", "주문하신 상품이 발송되었습니다.\n<b>&</b>", "제목", "헤더", "DS", "배송 조회", "https://x/?a=1&b=2", "02-123-4567", "대체 문자", uint32(0))
	// Every optional part: item highlight, item with summary, buttons,
	// failover on with its config, a reservation; then the summary in the
	// message, a recipient's failover over the job's.
	f.Add("@a", "T", "010-0000-0000", "82", "c", "t", "h", "WL", "n", "https://m", "031-000-0000", "fc", uint32(1<<1|1<<2|1<<4|1<<5|1<<7|1<<8|1<<13))
	f.Add("@a", "T", "010-0000-0000", "82", "c", "t", "h", "WL", "n", "https://m", "-", "", uint32(1<<0|1<<2|1<<4|1<<7|1<<9|1<<10|1<<11))
	f.Add("@a\"b", "T\u2028", "01012345678", "", "\xff\xfe\x01", "", "", "WL", "", "", "-", "", uint32(0xffffffff))
	f.Add("@a", "T", "+82 10 1234", "1", "c", "t", "h", "AC", "n", "l", "", "", uint32(0x5a5a5a5a))
	f.Fuzz(func(t *testing.T, sender, template, phone, country, content, title, header, btnType, btnName, link, from, foContent string, flags uint32) {
		bit := func(i int) bool { return flags&(1<<i) != 0 }
		cfg := DefaultConfig()
		cfg.ServiceID = "ncp:kkobizmsg:kr:123456789012:fuzz"
		if bit(0) {
			cfg.SummaryPlacement = SummaryInMessage
		}
		c, err := NewClient(cfg, "http://127.0.0.1:1", "ak", "sk", nil)
		if err != nil {
			t.Fatal(err)
		}
		r := job.Recipient{Phone: phone, CountryCode: country, Content: content, Title: title, Header: header}
		if bit(1) {
			r.ItemHighlight = &job.Pair{Title: title, Description: header}
		}
		if bit(2) {
			r.Item = &job.Item{List: []job.Pair{{Title: btnName, Description: link}, {Title: content}}}
			if bit(3) {
				r.Item.List = r.Item.List[:0]
			}
			if bit(4) {
				r.Item.Summary = &job.Pair{Title: "합계", Description: title}
			}
		}
		if bit(5) {
			r.Buttons = []job.Button{{Type: btnType, Name: btnName, URLMobile: link}, {Type: btnType, Name: title, URLPC: link, SchemeIOS: header, SchemeAndroid: content}}
		}
		if bit(6) {
			r.Buttons = []job.Button{}
		}
		j := &job.Job{ID: "fuzz", Account: "a", Kind: job.AlimTalk, Sender: sender, Template: template}
		if bit(7) {
			j.Failover = &job.Failover{Enabled: job.Bool(bit(8)), Type: btnType, From: from, Title: title, Content: foContent}
		}
		if bit(9) {
			r.Failover = &job.Failover{From: from}
			if bit(10) {
				r.Failover.Enabled = job.Bool(bit(11))
			}
			if bit(12) {
				r.Failover = &job.Failover{Enabled: job.Bool(true)}
			}
		}
		j.Recipients = []job.Recipient{r, {Phone: from, Content: foContent}}
		b := &providers.Batch{ID: "fuzz", Key: providers.Key{Account: "a", Kind: job.AlimTalk, Sender: sender, Template: template}}
		if bit(13) {
			b.Key.ReserveAt = int64(flags)
		}
		for i := range j.Recipients {
			b.Messages = append(b.Messages, providers.Message{Job: j, Recipient: &j.Recipients[i], Attempt: 1})
		}
		if got, want := c.buildRequest(b), oracleBody(t, c, b); !bytes.Equal(got, want) {
			t.Fatalf("buildRequest wrote\n%s\nencoding/json\n%s", got, want)
		}
	})
}
