package nhn

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// The AlimTalk body as encoding/json wrote it before alimTalkBody wrote it
// by hand: the oracle FuzzAlimTalkBodyAgreesWithEncodingJSON holds
// alimTalkBody to, byte for byte. Field order is the encoding order.
type oracleAlimTalkRequest struct {
	SenderKey         string                    `json:"senderKey"`
	TemplateCode      string                    `json:"templateCode"`
	RequestDate       string                    `json:"requestDate,omitempty"`
	SenderGroupingKey string                    `json:"senderGroupingKey,omitempty"`
	RecipientList     []oracleAlimTalkRecipient `json:"recipientList"`
}

type oracleAlimTalkRecipient struct {
	RecipientNo          string            `json:"recipientNo"`
	Content              string            `json:"content,omitempty"`
	TemplateParameter    map[string]string `json:"templateParameter,omitempty"`
	Buttons              []button          `json:"buttons,omitempty"`
	ResendParameter      *resendParameter  `json:"resendParameter,omitempty"`
	RecipientGroupingKey string            `json:"recipientGroupingKey,omitempty"`
}

func oracleAlimTalkBody(t testing.TB, b *providers.Batch, sent []sentRecipient) []byte {
	req := oracleAlimTalkRequest{SenderKey: b.Key.Sender, TemplateCode: b.Key.Template, RequestDate: requestDate(b.Key),
		SenderGroupingKey: SenderGroupingKey(b), RecipientList: make([]oracleAlimTalkRecipient, len(b.Messages))}
	for i := range b.Messages {
		m := &b.Messages[i]
		r := m.Recipient
		rc := oracleAlimTalkRecipient{RecipientNo: sent[i].no, Buttons: buttons(r.Buttons),
			ResendParameter: resend(m.Job.EffectiveFailover(r), false), RecipientGroupingKey: sent[i].groupingKey}
		if b.Key.Variables {
			rc.TemplateParameter = r.Variables
		} else {
			rc.Content = r.Content
		}
		req.RecipientList[i] = rc
	}
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// alimTalkBody writes what encoding/json wrote from the same fields,
// whatever they hold (escapes, <, > and &, invalid UTF-8, every optional
// part), and refuses the same batches.
func FuzzAlimTalkBodyAgreesWithEncodingJSON(f *testing.F) {
	f.Add("0123456789abcdef", "PROMO", "batch-1", "01012345678", "[Talkrelay] 11월 <쿠폰> & \"C1\"\n", "name", "이름", "WL", "https://x/?a=1&b=2", "02-123-4567", uint32(0))
	// Variables, buttons, a failover with everything, a reservation, a
	// hashed grouping key.
	f.Add("k", "T", "", "010-0000-0000", "", "v\u2028", "\xff", "AL", "app://x", "-", uint32(1<<0|1<<1|1<<2|1<<3|1<<5|1<<6))
	f.Add("k", "", "b", "010", "c", "n", "v", "DS", "", "", uint32(1<<4|1<<7))
	f.Fuzz(func(t *testing.T, sender, template, batchID, phone, content, name, value, btnType, link, from string, flags uint32) {
		bit := func(i int) bool { return flags&(1<<i) != 0 }
		j := &job.Job{ID: batchID + "+job", Account: "a", Kind: job.AlimTalk, Sender: sender, Template: template}
		r := job.Recipient{Phone: phone, Content: content}
		if bit(0) {
			r.Content = ""
			r.Variables = map[string]string{name: value, "b" + name: content, "<&>": from}
		}
		if bit(1) {
			r.Buttons = []job.Button{{Type: btnType, Name: name, URLMobile: link}, {Type: btnType, Name: value, URLPC: link, SchemeIOS: name, SchemeAndroid: value}}
		}
		if bit(2) {
			j.Failover = &job.Failover{Enabled: job.Bool(bit(3)), Type: btnType, From: from, Title: name, Content: value, UnsubscribeNo: from}
		}
		if bit(4) {
			r.Failover = &job.Failover{Enabled: job.Bool(false)}
		}
		if bit(7) {
			j.ID = "job-1"
		}
		second := job.Recipient{Phone: from, Content: value}
		if bit(0) {
			second = job.Recipient{Phone: from, Variables: map[string]string{"x": value}}
		}
		j.Recipients = []job.Recipient{r, second}
		b := &providers.Batch{ID: batchID, Key: providers.KeyOf(j, &j.Recipients[0], "")}
		if bit(5) {
			b.Key.ReserveAt = int64(flags)
		}
		for i := range j.Recipients {
			b.Messages = append(b.Messages, providers.Message{Job: j, Index: i, Recipient: &j.Recipients[i], Attempt: 1})
		}
		sent := make([]sentRecipient, len(b.Messages))
		for i, m := range b.Messages {
			sent[i].no = m.Recipient.Digits()
		}
		setRecipientKeys(b, sent)
		got, err := alimTalkBody(b, sent)
		wantErr := template == "" || !b.Key.Variables && (r.Content == "" || value == "")
		if (err != nil) != wantErr {
			t.Fatalf("alimTalkBody error %v, want one: %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if want := oracleAlimTalkBody(t, b, sent); !bytes.Equal(got, want) {
			t.Fatalf("alimTalkBody wrote\n%s\nencoding/json\n%s", got, want)
		}
	})
}
