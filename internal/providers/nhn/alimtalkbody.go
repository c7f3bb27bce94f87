package nhn

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/jsonw"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// alimTalkBody writes the body of AlimTalk v2.3 /messages and
// /raw-messages: senderKey, templateCode, requestDate, senderGroupingKey,
// recipientList, in this order; in each recipient recipientNo, content
// (/raw-messages) or templateParameter (/messages, names sorted),
// buttons, resendParameter, recipientGroupingKey. It writes byte for byte
// what encoding/json.Marshal wrote from those fields
// (FuzzAlimTalkBodyAgreesWithEncodingJSON), without reflection: every
// campaign's recipient goes through it.
func alimTalkBody(b *providers.Batch, sent []sentRecipient) ([]byte, error) {
	if b.Key.Template == "" {
		return nil, fmt.Errorf("template: required for AlimTalk")
	}
	out := make([]byte, 0, alimTalkSize(b, sent))
	out = append(out, `{"senderKey":`...)
	out = jsonw.AppendString(out, b.Key.Sender)
	out = append(out, `,"templateCode":`...)
	out = jsonw.AppendString(out, b.Key.Template)
	out = appendOptional(out, `,"requestDate":`, requestDate(b.Key))
	out = appendOptional(out, `,"senderGroupingKey":`, SenderGroupingKey(b))
	out = append(out, `,"recipientList":[`...)
	for i := range b.Messages {
		m := &b.Messages[i]
		r := m.Recipient
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"recipientNo":`...)
		out = jsonw.AppendString(out, sent[i].no)
		if b.Key.Variables {
			if r.Content != "" || len(r.Variables) == 0 {
				return nil, fmt.Errorf("message %d: a template-variables batch holds a recipient without variables only", i)
			}
			out = appendTemplateParameter(out, r.Variables)
		} else {
			if r.Content == "" {
				return nil, fmt.Errorf("message %d: a full-content batch holds a recipient without content", i)
			}
			out = jsonw.AppendString(append(out, `,"content":`...), r.Content)
		}
		out = appendButtons(out, r.Buttons)
		out = appendResendParameter(out, m.Job.EffectiveFailover(r))
		out = appendOptional(out, `,"recipientGroupingKey":`, sent[i].groupingKey)
		out = append(out, '}')
	}
	return append(out, ']', '}'), nil
}

// alimTalkSize is room for a body: the texts and keys, and some for the rest.
func alimTalkSize(b *providers.Batch, sent []sentRecipient) int {
	n := 128 + len(b.Key.Sender) + len(b.Key.Template) + len(b.ID)
	for i, m := range b.Messages {
		n += 96 + len(m.Recipient.Content) + len(sent[i].no) + len(sent[i].groupingKey) + 96*len(m.Recipient.Buttons)
	}
	return n
}

// appendTemplateParameter writes the variables in the order of their
// names, as encoding/json writes a map.
func appendTemplateParameter(b []byte, vars map[string]string) []byte {
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	slices.Sort(names)
	b = append(b, `,"templateParameter":{`...)
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonw.AppendString(b, name), ':')
		b = jsonw.AppendString(b, vars[name])
	}
	return append(b, '}')
}

// appendButtons writes the buttons as they are, numbered from 1 (see
// buttons).
func appendButtons(b []byte, bs []job.Button) []byte {
	if len(bs) == 0 {
		return b
	}
	b = append(b, `,"buttons":[`...)
	for i := range bs {
		bt := &bs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(append(b, `{"ordering":`...), int64(i+1), 10)
		b = jsonw.AppendString(append(b, `,"type":`...), bt.Type)
		b = jsonw.AppendString(append(b, `,"name":`...), bt.Name)
		b = appendOptional(b, `,"linkMo":`, bt.URLMobile)
		b = appendOptional(b, `,"linkPc":`, bt.URLPC)
		b = appendOptional(b, `,"schemeIos":`, bt.SchemeIOS)
		b = appendOptional(b, `,"schemeAndroid":`, bt.SchemeAndroid)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendResendParameter writes an AlimTalk recipient's resendParameter
// (see resend): none without a failover.
func appendResendParameter(b []byte, f *job.Failover) []byte {
	if f == nil {
		return b
	}
	b = strconv.AppendBool(append(b, `,"resendParameter":{"isResend":`...), f.On())
	b = appendOptional(b, `,"resendType":`, f.Type)
	b = appendOptional(b, `,"resendTitle":`, f.Title)
	b = appendOptional(b, `,"resendContent":`, f.Content)
	b = appendOptional(b, `,"resendSendNo":`, digits(f.From))
	return append(b, '}')
}

// appendOptional writes a member (key is its comma, name and colon) whose
// value is not empty: an omitempty field.
func appendOptional(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return jsonw.AppendString(append(b, key...), v)
}
