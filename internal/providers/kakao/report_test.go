package kakao

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// Result polling hands the same batch out until it is completed, with a
// new report_group_no each time; a completion Kakao refuses (in the body
// of its HTTP 200) is an error and completes nothing; results of messages
// talkrelay did not send, or still in progress, are skipped.
func TestResultPolling(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock(), kakaofake.WithResultsBatch(4))
	c := newTestClient(t, f, nil)
	j := alimTalkJob(3)
	f.Record(kakaofake.Message{CID: CID(j.ID, 0)})
	f.Record(kakaofake.Message{CID: CID(j.ID, 1), Status: "API_510"})
	f.Record(kakaofake.Message{CID: HashedCID("other", 0)}) // not decodable: another sender's, or sent before
	f.Record(kakaofake.Message{CID: CID(j.ID, 1), MessageType: "LM"})
	f.Record(kakaofake.Message{CID: CID(j.ID, 2), Status: "API_100"}) // in progress: not handed out
	f.Record(kakaofake.Message{CID: CID(j.ID, 2), Status: "API_510"})

	type view struct {
		Index              int
		State, Code, FType string
	}
	next := func() *providers.ReportBatch {
		t.Helper()
		b, err := c.NextReports(t.Context())
		if err != nil {
			t.Fatalf("NextReports: %v", err)
		}
		return b
	}
	views := func(b *providers.ReportBatch) []view {
		var out []view
		for _, r := range b.Reports {
			if r.JobID != j.ID || r.MessageID == "" {
				t.Errorf("report %+v: want job %s and a uid", r, j.ID)
			}
			out = append(out, view{r.Index, r.State, r.Code, r.FallbackType})
		}
		return out
	}
	want := []view{{0, providers.ReportDelivered, "API_200", ""}, {1, providers.ReportFailed, "API_510", ""},
		{1, providers.ReportFallbackSent, "API_200", "LMS"}}
	first := next()
	if diff := cmp.Diff(want, views(first)); diff != "" || first.Skipped != 1 || first.Listed != 4 {
		t.Fatalf("first batch (-want +got):\n%s\n%d listed, %d skipped; want 4 and 1", diff, first.Listed, first.Skipped)
	}
	again := next()
	if diff := cmp.Diff(want, views(again)); diff != "" || again.Group == first.Group {
		t.Fatalf("uncompleted batch handed out again (-want +got):\n%s\ngroup %s then %s", diff, first.Group, again.Group)
	}
	f.FailComplete("500")
	if err := c.CompleteReports(t.Context(), again.Group); err == nil || f.Completed() != 0 {
		t.Fatalf("completion answered code 500: %v, %d completed; want an error and none", err, f.Completed())
	}
	if err := c.CompleteReports(t.Context(), again.Group); err != nil || f.Completed() != 4 {
		t.Fatalf("complete: %v, %d completed; want 4", err, f.Completed())
	}
	if err := c.CompleteReports(t.Context(), again.Group); err == nil {
		t.Error("completing a group twice: no error")
	}
	last := next()
	if diff := cmp.Diff([]view{{2, providers.ReportFailed, "API_510", ""}}, views(last)); diff != "" {
		t.Errorf("after completion (-want +got):\n%s", diff)
	}
	if err := c.CompleteReports(t.Context(), last.Group); err != nil {
		t.Fatal(err)
	}
	if empty := next(); empty.Group != "" || empty.Listed != 0 {
		t.Errorf("nothing pending: %+v, want no group", empty)
	}
}

// Whatever the results answer, it is an error or reports of decodable
// cids in a known state with a group to complete.
func FuzzParseResults(f *testing.F) {
	for _, seed := range []string{
		`{"code":"200","report_group_no":"849","results":[{"seq_no":1,"uid":"u","cid":"j~0","status_code":"API_200","sms_status_code":"-100","ended_yn":"Y","ended_date":"2022-09-18T08:04:04","message_type":"AT"}]}`,
		`{"code":"200","report_group_no":849,"results":[{"cid":"j~1","status_code":"API_510","sms_status_code":"0","ended_yn":"Y"}]}`,
		`{"code":"200","results":[{"cid":"j~0","message_type":"SM","status_code":"API_200","ended_yn":"Y"}]}`,
		`{"code":"500"}`, `{"code":"200","results":[{"cid":5}]}`, `{"code":"200"}`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		group, entries, err := parseResults(body)
		if err != nil {
			return
		}
		if len(entries) > 0 && group == "" {
			t.Fatalf("%d results without a group", len(entries))
		}
		for _, e := range entries {
			rep, ok := e.report()
			if !ok {
				continue
			}
			providertest.KnownState(t, rep)
			if CID(rep.JobID, rep.Index) != e.CID {
				t.Fatalf("report of %s/%d from cid %q", rep.JobID, rep.Index, e.CID)
			}
		}
	})
}

func TestConformanceReporter(t *testing.T) {
	t.Parallel()
	providertest.RunReporter(t, suite(alimTalkJob))
}
