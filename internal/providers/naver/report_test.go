package naver

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// The request list by requestId gives each message's terminal state once
// it has one: processing first, then delivered, failed (no fallback asked,
// or a B-code for which NAVER sends none) or, with a fallback, its SMS
// after its own PROCESSING.
func TestRequestReports(t *testing.T) {
	t.Parallel()
	f, c, clock := lookupSetup(t)
	j := testJob(4)
	j.Failover = &job.Failover{Enabled: job.Bool(true)}
	j.Recipients[0].Failover = &job.Failover{Enabled: job.Bool(false)}
	b := providertest.Batch(j, 4)
	f.FailDelivery("01012340000", "3018") // no fallback asked
	f.FailDelivery("01012340001", "3018") // fallback
	f.FailDelivery("01012340002", "B009") // no fallback for a relay code
	if _, err := c.Send(t.Context(), b); err != nil {
		t.Fatalf("Send: %v", err)
	}
	type view struct{ MessageID, State, Code, FallbackCode string }
	reports := func() []view {
		t.Helper()
		reps, err := c.RequestReports(t.Context(), "RQ-1")
		if err != nil {
			t.Fatalf("RequestReports: %v", err)
		}
		var out []view
		for _, r := range reps {
			if r.RequestID != "RQ-1" {
				t.Errorf("report %+v: request id %q, want RQ-1", r, r.RequestID)
			}
			out = append(out, view{r.MessageID, r.State, r.Code, r.FallbackCode})
		}
		return out
	}
	if got := reports(); len(got) != 0 {
		t.Fatalf("while processing: %+v, want none", got)
	}
	clock.Set(testNow.Add(time.Second))
	want := []view{
		{"MSG-1-0", providers.ReportFailed, "3018", ""},
		{"MSG-1-2", providers.ReportFailed, "B009", ""},
		{"MSG-1-3", providers.ReportDelivered, "0000", ""},
	}
	if diff := cmp.Diff(want, reports()); diff != "" {
		t.Errorf("completed, fallback processing (-want +got):\n%s", diff)
	}
	clock.Set(testNow.Add(2 * time.Second))
	want = append(want[:1], append([]view{{"MSG-1-1", providers.ReportFallbackSent, "3018", "0"}}, want[1:]...)...)
	if diff := cmp.Diff(want, reports()); diff != "" {
		t.Errorf("fallback completed (-want +got):\n%s", diff)
	}
	// The per-message query, for a message whose request id is not known.
	rep, terminal, err := c.MessageReport(t.Context(), "MSG-1-1")
	if err != nil || !terminal || rep.State != providers.ReportFallbackSent || rep.RequestID != "RQ-1" || rep.MessageID != "MSG-1-1" {
		t.Errorf("MessageReport: %+v, %v, %v; want fallback_sent in RQ-1", rep, terminal, err)
	}
	if rep, terminal, err := c.MessageReport(t.Context(), "MSG-9-9"); err != nil || terminal {
		t.Errorf("MessageReport of a message NAVER does not list: %+v, %v, %v; want none and no error", rep, terminal, err)
	}
	if _, err := c.RequestReports(t.Context(), "RQ-404"); err != nil {
		t.Errorf("a request NAVER lists nothing for: %v, want no reports and no error", err)
	}
	f.Next(providertest.Answer{LookupStatus: 503})
	if reps, err := c.RequestReports(t.Context(), "RQ-1"); err == nil {
		t.Errorf("list answered 503: %+v, want an error", reps)
	}
}

func TestDeliveryReportFailover(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, "http://unused", nil)
	for _, tc := range []struct {
		name, failover string
		want           string // state, "" for not terminal
		code           string
	}{
		{"no failover block yet", ``, "", ""},
		{"ready", `,"failover":{"requestStatusCode":"0","messageStatus":"READY"}`, "", ""},
		{"request failed", `,"failover":{"requestStatusCode":"E4009"}`, providers.ReportFallbackFailed, "E4009"},
		{"not received", `,"failover":{"requestStatusCode":"0","messageStatus":"COMPLETED","messageStatusCode":"3"}`, providers.ReportFallbackFailed, "3"},
		{"sent", `,"failover":{"requestStatusCode":"0","messageStatus":"COMPLETED","messageStatusCode":"0"}`, providers.ReportFallbackSent, "0"},
	} {
		var m queryMessage
		body := `{"messageId":"M","to":"1","content":"c","requestStatusCode":"A000","messageStatusCode":"3018","messageStatusName":"fail","useSmsFailover":true` + tc.failover + `}`
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		rep, ok := c.deliveryReport(&m)
		if ok != (tc.want != "") || rep.State != tc.want || (ok && rep.FallbackCode != tc.code) {
			t.Errorf("%s: %+v terminal %v, want %q with fallback code %q", tc.name, rep, ok, tc.want, tc.code)
		}
	}
}

// Whatever a listed message says, its report is terminal in a known state
// with the message id, or not terminal.
func FuzzDeliveryReport(f *testing.F) {
	for _, seed := range []string{
		`{"messageId":"M","requestStatusCode":"A000","messageStatusCode":"0000","messageStatusName":"success","completeTime":"2026-11-30T19:00:01"}`,
		`{"messageId":"M","requestStatusCode":"A000","messageStatusName":"fail","useSmsFailover":true,"failover":{"requestStatusCode":"0","messageStatus":"COMPLETED","messageStatusCode":"0"}}`,
		`{"messageId":"M","requestStatusCode":"A000","messageStatusName":"processing"}`,
		`{"requestStatusCode":"3016","messageStatusName":"fail"}`, `{"failover":null}`, `{"failover":1}`,
	} {
		f.Add([]byte(seed))
	}
	c := &Client{queryLoc: time.UTC} // deliveryReport reads the zone only
	f.Fuzz(func(t *testing.T, body []byte) {
		var m queryMessage
		if json.Unmarshal(body, &m) != nil {
			return
		}
		rep, ok := c.deliveryReport(&m)
		if !ok {
			return
		}
		providertest.KnownState(t, rep)
		if rep.MessageID == "" || m.RequestStatusCode != "A000" {
			t.Fatalf("terminal report %+v of %s", rep, body)
		}
	})
}

func TestReporterConformance(t *testing.T) {
	t.Parallel()
	providertest.RunReporter(t, conformanceSuite())
}
