package kakao

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// polledClient is a client of an account whose results are polled.
func polledClient(t *testing.T, f *fake) *Client {
	t.Helper()
	s := spec(t, f.URL(), nil)
	s.ReportsPolled = true
	c, err := NewClient(s, WithClock(f.clock.Now))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// Under the polling contract a send answers 100: with the account's
// results polled, an AlimTalk is accepted at once (its report comes from
// polling); a FriendTalk, which polling does not report, and any message
// of an account without polling stay unknown, to be looked up.
func TestInProgressAcceptedWhenPolled(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock(), kakaofake.WithPollingContract())
	polled, unpolled := polledClient(t, f), newTestClient(t, f, nil)
	for _, tc := range []struct {
		name  string
		c     *Client
		j     *job.Job
		class providers.Class
	}{
		{"polled alimtalk", polled, alimTalkJob(1), providers.Accepted},
		{"polled friendtalk", polled, friendTalkJob(1), providers.Unknown},
		{"unpolled alimtalk", unpolled, alimTalkJob(1), providers.Unknown},
	} {
		out, err := send(t, tc.c, tc.j)
		if err != nil || len(out) != 1 {
			t.Fatalf("%s: Send = %+v, %v", tc.name, out, err)
		}
		o := out[0]
		if o.Class != tc.class || o.Code != "100" || o.MessageID == "" || o.RequestID != CID(tc.j.ID, 0) {
			t.Errorf("%s: outcome %+v, want %s with code 100, the uid and the cid", tc.name, o, tc.class)
		}
		if accepted := o.Class == providers.Accepted; accepted != strings.HasPrefix(o.Message, InProgressMessage) || (accepted && o.Reason != "") {
			t.Errorf("%s: message %q, reason %q", tc.name, o.Message, o.Reason)
		}
	}
	if n := f.Details(); n != 0 {
		t.Errorf("%d detail requests on send", n)
	}
}

// A message a lookup finds in progress (API_100: it was answered 500 and
// Kakao is still processing it) is accepted the same way when polled.
func TestInProgressLookedUpAcceptedWhenPolled(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock(), kakaofake.WithPollingContract())
	polled, unpolled := polledClient(t, f), newTestClient(t, f, nil)
	j := alimTalkJob(1)
	last := sendWith(t, f, polled, j, 0, providertest.Answer{Codes: map[int]string{0: "500"}})
	if last.Class != providers.Unknown || last.MessageID == "" {
		t.Fatalf("send answered 500: %+v, want unknown with the uid", last)
	}
	q := query(j, 0, last, f.clock.Now())
	for _, tc := range []struct {
		name  string
		c     *Client
		class providers.Class
	}{{"polled", polled, providers.Accepted}, {"unpolled", unpolled, providers.Unknown}} {
		o := resolve(t, tc.c, q)[0]
		if o.Class != tc.class || o.Code != "API_100" || o.MessageID != last.MessageID {
			t.Errorf("%s: lookup %+v, want %s with code API_100 and the uid", tc.name, o, tc.class)
		}
	}
}

// A message accepted in progress that polling never reported is read from
// the detail API, once, and reported as its polled result would be;
// still processing, unknown to the API or of another cid, it has no
// report. Other messages are asked nothing.
func TestLookupReports(t *testing.T) {
	t.Parallel()
	f := newFake(t, newClock())
	c := polledClient(t, f)
	j := alimTalkJob(8)
	uid := func(i int, m kakaofake.Message) string {
		m.CID = CID(j.ID, i)
		return f.Record(m)
	}
	msgs := []providers.AcceptedMessage{
		{Code: "100", MessageID: uid(0, kakaofake.Message{})},
		{Code: "100", MessageID: uid(1, kakaofake.Message{Status: "API_510"})},
		{Code: "100", MessageID: uid(2, kakaofake.Message{Status: "API_100"})},
		{Code: "100", MessageID: uid(3, kakaofake.Message{Status: "API_510", SMSType: "LM", SMSStatus: "0"})},
		{Code: "100", MessageID: "221018080314511unknownUIDxxxx"},
		{Code: "100", MessageID: f.Record(kakaofake.Message{CID: "someone-else"})},
		{Code: "200", MessageID: uid(6, kakaofake.Message{})},
		{Code: "API_100", MessageID: uid(7, kakaofake.Message{Status: "API_510"})},
	}
	for i := range msgs {
		msgs[i].JobID, msgs[i].Index, msgs[i].RequestID = j.ID, i, CID(j.ID, i)
	}
	reps, err := c.LookupReports(t.Context(), msgs)
	if err != nil || len(reps) != len(msgs) {
		t.Fatalf("LookupReports = %d reports, %v", len(reps), err)
	}
	type view struct {
		State, Code, FType, FCode, UID string
	}
	var got []*view
	for i, r := range reps {
		if r == nil {
			got = append(got, nil)
			continue
		}
		if r.JobID != j.ID || r.Index != i {
			t.Errorf("report %d is of %s/%d", i, r.JobID, r.Index)
		}
		got = append(got, &view{r.State, r.Code, r.FallbackType, r.FallbackCode, r.MessageID})
	}
	want := []*view{
		{providers.ReportDelivered, "API_200", "", "", msgs[0].MessageID},
		{providers.ReportFailed, "API_510", "", "", msgs[1].MessageID},
		nil,
		{providers.ReportFallbackSent, "API_510", "LMS", "0", msgs[3].MessageID},
		nil, nil, nil,
		{providers.ReportFailed, "API_510", "", "", msgs[7].MessageID},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
	if n := f.Details(); n != 7 {
		t.Errorf("%d detail requests, want 7 (one per message in progress)", n)
	}
}
