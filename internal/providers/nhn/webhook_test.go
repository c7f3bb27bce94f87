package nhn

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// A result-update hook reports deliveries of messages talkrelay sent,
// leaves every other update to polling (a failure may still be followed
// by the fallback) and counts entries of messages that are not
// talkrelay's; other events carry nothing; a body without an event is
// not a hook.
func TestResultHook(t *testing.T) {
	body := `{"hooksId":"h1","webhookConfigId":"c1","productName":"KakaoTalk Bizmessage","appKey":"k","event":"MESSAGE_RESULT_UPDATE","hooks":[
		{"kakaoMessageType":"ALIMTALK_NORMAL","requestId":"r1","recipientSeq":1,"receiveDate":"2026-06-20 12:00:05","recipientNo":"01000000000","resultCode":"1000","recipientGroupingKey":"job.1/0","hookId":"x"},
		{"kakaoMessageType":"FRIENDTALK_MASS","requestId":"r2","recipientSeq":"2","resultCode":"MRC01","recipientGroupingKey":"job.2/3"},
		{"kakaoMessageType":"ALIMTALK_NORMAL","requestId":"r1","recipientSeq":2,"resultCode":"3015","recipientGroupingKey":"job.1/1"},
		{"kakaoMessageType":"ALIMTALK_NORMAL","requestId":"r1","recipientSeq":3,"resultCode":"3005","recipientGroupingKey":"job.1/2"},
		{"kakaoMessageType":"ALIMTALK_NORMAL","requestId":"r9","recipientSeq":1,"resultCode":"1000","recipientGroupingKey":"someone-else"},
		{"kakaoMessageType":"ALIMTALK_NORMAL","requestId":"r9","recipientSeq":2,"resultCode":"1000"}]}`
	got, err := parseResultHook([]byte(body), "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.Pending != 2 || got.Foreign != 2 || got.Ignored || len(got.Reports) != 2 {
		t.Fatalf("%+v", got)
	}
	want := []providers.HookReport{
		{Kind: job.AlimTalk, Report: providers.Report{JobID: "job.1", Index: 0, State: providers.ReportDelivered, Code: "1000", RequestID: "r1", MessageID: "1"}},
		{Kind: job.FriendTalk, Report: providers.Report{JobID: "job.2", Index: 3, State: providers.ReportDelivered, Code: "MRC01", RequestID: "r2", MessageID: "2"}},
	}
	for i, w := range want {
		r := got.Reports[i]
		r.At = w.At
		if r != w {
			t.Errorf("report %d: %+v, want %+v", i, r, w)
		}
	}
	if got.Reports[0].At.IsZero() {
		t.Error("receiveDate not read")
	}
	// The same hook for another account's app key, or without one,
	// reports nothing: its entries are foreign.
	noKey := strings.Replace(body, `"appKey":"k",`, "", 1)
	for _, tc := range []struct{ body, appKey string }{{body, "other"}, {noKey, "k"}} {
		misrouted, err := parseResultHook([]byte(tc.body), tc.appKey)
		if err != nil || len(misrouted.Reports) != 0 || misrouted.Pending != 0 || misrouted.Foreign != 6 {
			t.Errorf("hook read for app key %q: %+v, %v", tc.appKey, misrouted, err)
		}
	}

	other, err := parseResultHook([]byte(`{"event":"TEMPLATE_STATUS_UPDATE","hooks":[{"templateCode":"T","status":"TSC03"}]}`), "k")
	if err != nil || !other.Ignored || len(other.Reports) != 0 {
		t.Errorf("template hook: %+v, %v", other, err)
	}
	for _, bad := range []string{``, `null`, `{}`, `{"hooks":[]}`, `[1]`, `{"event":"MESSAGE_RESULT_UPDATE","hooks":[{"recipientSeq":"x"}]}`} {
		if _, err := parseResultHook([]byte(bad), "k"); err == nil {
			t.Errorf("%q read as a hook", bad)
		}
	}
}

// The signature is the configured value itself, in exactly one header.
func TestHookSigned(t *testing.T) {
	c := &Client{}
	for _, tc := range []struct {
		values []string
		want   bool
	}{{[]string{"sig-1"}, true}, {nil, false}, {[]string{""}, false}, {[]string{"sig-2"}, false}, {[]string{"sig-1x"}, false},
		{[]string{"sig-1", "sig-1"}, false}} {
		h := http.Header{}
		for _, v := range tc.values {
			h.Add(HookSignatureHeader, v)
		}
		if got := c.HookSigned(h, "sig-1"); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.values, got, tc.want)
		}
	}
	if c.HookSigned(http.Header{HookSignatureHeader: {""}}, "") {
		t.Error("an empty signature accepted")
	}
}

// FuzzResultHook feeds arbitrary webhook bodies to the parser: no panic;
// every report is a delivery of the recipient its key names, and every
// entry is counted once.
func FuzzResultHook(f *testing.F) {
	for _, seed := range []string{
		`{"appKey":"k","event":"MESSAGE_RESULT_UPDATE","hooks":[{"kakaoMessageType":"ALIMTALK_NORMAL","requestId":"r1","recipientSeq":1,"receiveDate":"2026-06-20 12:00:05","resultCode":"1000","recipientGroupingKey":"job.1/0"}]}`,
		`{"appKey":"k","event":"MESSAGE_RESULT_UPDATE","hooks":[{"recipientSeq":"7","resultCode":3015,"recipientGroupingKey":"j/1"},{"resultCode":null,"recipientGroupingKey":"h-0a/1"},{}]}`,
		`{"event":"TEMPLATE_STATUS_UPDATE","hooks":[{}]}`, `{"event":"","hooks":null}`, `null`, ``, `{"event":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseResultHook(data, "k")
		if err != nil {
			return
		}
		for _, r := range got.Reports {
			if r.State != providers.ReportDelivered || r.Code != "1000" && r.Code != "MRC01" {
				t.Fatalf("report %+v", r)
			}
			if _, _, ok := ParseRecipientGroupingKey(RecipientGroupingKey(r.JobID, r.Index)); !ok {
				t.Fatalf("report of %s/%d, not a key talkrelay makes", r.JobID, r.Index)
			}
		}
		var h resultHook
		_ = json.Unmarshal(data, &h)
		if n := len(got.Reports) + got.Pending + got.Foreign; got.Ignored && n > 0 || !got.Ignored && n != len(h.Hooks) {
			t.Fatalf("%d entries counted of %d (ignored %v)", n, len(h.Hooks), got.Ignored)
		}
	})
}
