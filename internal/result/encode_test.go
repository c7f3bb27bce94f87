package result

import (
	"encoding/json"
	"testing"
	"time"
)

func sample() *Event {
	sent := time.Date(2026, 11, 21, 5, 30, 0, 100_000_000, time.UTC)
	return &Event{Version: 1, JobID: "order-1", RecipientIndex: 3, Ref: "c-1", Phone: "010****5678",
		Account: "shop", Provider: "naver", Kind: "alimtalk", Status: Failed, Retryable: true, Attempt: 5,
		Reason: ReasonProviderUnavailable, Code: "B001", CodeName: "Request to relay failed",
		Message: "중계사 \"전송\" 실패 <&> \n\t\x01 \u2028", Detail: "gave up after 5 attempts",
		ProviderRequestID: "RQ-1", ProviderMessageID: "MSG-1", ReservedBy: ReservedByProvider, Metadata: json.RawMessage(`{"a":[1,2],"b":"x"}`),
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Time: sent.Add(time.Second), SentAt: &sent}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, ev := range []*Event{sample(), accepted(), {Version: 1, RecipientIndex: -1, Account: "_", Status: Rejected, Reason: ReasonInvalidJob,
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("KST", 9*3600))}} {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
		}
		checkShared(t, ev, want)
	}
}

// checkShared checks that AppendJSONShared writes want for ev, with the
// common fields of ev itself and with those of other events: one whose
// fields differ in each way (then it writes them itself).
func checkShared(t *testing.T, ev *Event, want []byte) {
	t.Helper()
	others := []*Event{ev}
	for _, change := range []func(*Event){
		func(o *Event) { o.Version++ },
		func(o *Event) { o.JobID += "x" },
		func(o *Event) { o.Account += "x" },
		func(o *Event) { o.Provider += "x" },
		func(o *Event) { o.Kind += "x" },
		func(o *Event) { o.TraceID += "x" },
		func(o *Event) { o.Metadata = append(json.RawMessage(`{"other":1}`), o.Metadata...) },
	} {
		o := *ev
		change(&o)
		others = append(others, &o)
	}
	for i, o := range others {
		if got := ev.AppendJSONShared(nil, NewShared(o)); string(got) != string(want) {
			t.Fatalf("AppendJSONShared with the common fields of event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("order-1", "중계사 \"실패\"", "B001", `{"k":"v"}`, int64(3))
	f.Add("\xff\xfe", "\u2029<>&\\", "", `{}`, int64(-1))
	f.Fuzz(func(t *testing.T, id, msg, code, meta string, idx int64) {
		ev := sample()
		ev.JobID, ev.Message, ev.Code, ev.RecipientIndex = id, msg, code, int(idx)
		if json.Valid([]byte(meta)) && len(meta) > 0 && meta[0] == '{' {
			var c []byte
			c, _ = json.Marshal(json.RawMessage(meta)) // compact, as the worker stores it
			ev.Metadata = c
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Skip()
		}
		if got := ev.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendJSON:\n got %s\nwant %s", got, want)
		}
		checkShared(t, ev, want)
	})
}

// accepted is the result most recipients get: accepted, with the ids the
// provider answered.
func accepted() *Event {
	sent := time.Date(2026, 11, 21, 5, 30, 0, 123_456_789, time.UTC)
	return &Event{Version: 1, JobID: "01JBENCHJOB0000000000000000", RecipientIndex: 1234, Phone: "010****5678",
		Account: "shop", Provider: "nhn", Kind: "alimtalk", Status: Accepted, Attempt: 1, Reason: ReasonOK,
		ProviderRequestID: "20261121053000abcdEFGH0", ProviderMessageID: "20261121053000abcdEFGH0-1234",
		Metadata: json.RawMessage(`{"campaign":"winter"}`), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		Time: sent.Add(40 * time.Millisecond), SentAt: &sent}
}

func BenchmarkEncode(b *testing.B) {
	for name, ev := range map[string]*Event{"accepted": accepted(), "failed": sample()} {
		b.Run(name+"/encoding/json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = json.Marshal(ev)
			}
		})
		b.Run(name+"/AppendJSON", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				buf = ev.AppendJSON(buf[:0])
			}
		})
		// The worker's case: the common fields of the job's results
		// written once.
		b.Run(name+"/AppendJSONShared", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1024)
			s := NewShared(ev)
			for b.Loop() {
				buf = ev.AppendJSONShared(buf[:0], s)
			}
		})
	}
}
