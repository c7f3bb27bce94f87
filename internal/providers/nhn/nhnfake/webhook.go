package nhnfake

import (
	"encoding/json"
	"strings"
)

// hook is one entry of a MESSAGE_RESULT_UPDATE webhook (the KakaoTalk
// Bizmessage Webhook API guide).
type hook struct {
	KakaoMessageType     string `json:"kakaoMessageType"`
	RequestID            string `json:"requestId"`
	RecipientSeq         int    `json:"recipientSeq"`
	RequestDate          string `json:"requestDate"`
	CreateDate           string `json:"createDate"`
	ReceiveDate          string `json:"receiveDate"`
	RecipientNo          string `json:"recipientNo"`
	ResultCode           string `json:"resultCode"`
	SenderGroupingKey    string `json:"senderGroupingKey"`
	RecipientGroupingKey string `json:"recipientGroupingKey"`
	Links                struct {
		Self struct {
			Href string `json:"href"`
		} `json:"self"`
	} `json:"_links"`
	HookID string `json:"hookId"`
}

// ResultHook is the body NHN posts to a webhook for a result update of
// the records with these recipientGroupingKeys, as they stand now: one
// hook each, in the order given.
func (f *Fake) ResultHook(recipientGroupingKeys ...string) []byte {
	f.mu.Lock()
	var hooks []hook
	for _, key := range recipientGroupingKeys {
		for i := range f.records {
			rec := &f.records[i]
			if rec.RecipientGroupingKey != key {
				continue
			}
			h := hook{KakaoMessageType: strings.ToUpper(rec.Product) + "_NORMAL", RequestID: rec.RequestID, RecipientSeq: rec.RecipientSeq,
				RequestDate: rec.RequestDate, CreateDate: rec.CreateDate, ReceiveDate: rec.ReceiveDate, RecipientNo: rec.RecipientNo,
				ResultCode: rec.ResultCode, SenderGroupingKey: rec.SenderGroupingKey, RecipientGroupingKey: rec.RecipientGroupingKey,
				HookID: "hook-" + rec.RequestID + "-" + key}
			h.Links.Self.Href = f.srv.URL + "/" + rec.Product + "/messages/" + rec.RequestID
			hooks = append(hooks, h)
		}
	}
	f.mu.Unlock()
	out, _ := json.Marshal(map[string]any{"hooksId": "hooks-1", "webhookConfigId": "config-1", "productName": "KakaoTalk Bizmessage",
		"appKey": AppKey, "event": "MESSAGE_RESULT_UPDATE", "hooks": hooks})
	return out
}
