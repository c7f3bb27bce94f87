package job

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/schemas"
)

func TestDecodeExamplesRoundTrip(t *testing.T) {
	t.Parallel()
	names, _ := fs.Glob(schemas.Files, "examples/job-*.json")
	if len(names) == 0 {
		t.Fatal("no job examples")
	}
	for _, name := range names {
		data, _ := schemas.Files.ReadFile(name)
		j, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := j.Encode()
		if err != nil {
			t.Fatal(err)
		}
		j2, err := Decode(again)
		if err != nil {
			t.Fatalf("%s re-encoded: %v\n%s", name, err, again)
		}
		// Metadata is compacted on the way out; compare the canonical forms.
		third, _ := j2.Encode()
		if diff := cmp.Diff(string(again), string(third)); diff != "" || len(j.Recipients) != len(j2.Recipients) {
			t.Errorf("%s: round trip changed the job:\n%s", name, diff)
		}
	}
}

func TestDecodeErrorKeepsIdentity(t *testing.T) {
	t.Parallel()
	_, err := Decode([]byte(`{"version":1,"id":"j1","account":"acct","kind":"friendtalk","recipients":[]}`))
	var je *Error
	if !errors.As(err, &je) || je.ID != "j1" || je.Account != "acct" || je.Kind != "friendtalk" {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "/recipients") {
		t.Errorf("error does not locate the problem: %v", err)
	}
	_, err = Decode([]byte("\x00garbage"))
	if !errors.As(err, &je) || je.Reason != "not JSON" || je.ID != "" {
		t.Fatalf("garbage: %#v", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "invalid job: not JSON: ") || strings.Count(msg, "not JSON") != 1 {
		t.Errorf("garbage: %q says its reason other than once", msg)
	}
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"01012345678": "010****5678",
		"0212345678":  "021***5678",
		"1234567":     "*******",
		"":            "",
	} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
	r := Recipient{Phone: "010-1234-5678"}
	if r.Digits() != "01012345678" || r.MaskedPhone() != "010****5678" || r.Country() != "82" {
		t.Errorf("%q %q %q", r.Digits(), r.MaskedPhone(), r.Country())
	}
}

func TestEffectiveFailover(t *testing.T) {
	t.Parallel()
	j := &Job{Failover: &Failover{Enabled: Bool(true), Type: "SMS", From: "021234", Content: "job text"}}
	r := &Recipient{Failover: &Failover{Type: "LMS", Title: "hi"}}
	got := j.EffectiveFailover(r)
	want := &Failover{Enabled: Bool(true), Type: "LMS", From: "021234", Title: "hi", Content: "job text"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	if j.Failover.Type != "SMS" {
		t.Error("the job's failover was modified")
	}
	if j.EffectiveFailover(&Recipient{}) != j.Failover {
		t.Error("recipient without failover does not get the job's")
	}
}

// A recipient's failover object overrides the job's, enabled: false
// included: a recipient can turn off the SMS/LMS the job turned on (and
// the reverse), and one that says nothing of enabled keeps the job's.
func TestEffectiveFailoverRecipientTurnsItOff(t *testing.T) {
	t.Parallel()
	j, err := Decode([]byte(`{"version":1,"id":"fo","account":"a","kind":"alimtalk","template":"T",
		"failover":{"enabled":true,"type":"LMS","from":"0212345678"},
		"recipients":[
			{"phone":"01012345678","content":"x","failover":{"enabled":false}},
			{"phone":"01012345679","content":"x","failover":{"title":"t"}},
			{"phone":"01012345670","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true, true} {
		if got := j.EffectiveFailover(&j.Recipients[i]).On(); got != want {
			t.Errorf("recipient %d: failover on = %v, want %v", i, got, want)
		}
	}
	off := &Job{Failover: &Failover{Enabled: Bool(false)}}
	if !off.EffectiveFailover(&Recipient{Failover: &Failover{Enabled: Bool(true)}}).On() {
		t.Error("a recipient cannot turn on the failover its job turned off")
	}
	if (&Failover{}).On() || (*Failover)(nil).On() {
		t.Error("failover without enabled: true is on")
	}
}

// FuzzDecode: jobs are untrusted input. Decode never panics, and what it
// accepts re-encodes to a document the schema accepts too.
func FuzzDecode(f *testing.F) {
	names, _ := fs.Glob(schemas.Files, "examples/job-*.json")
	for _, name := range names {
		data, _ := schemas.Files.ReadFile(name)
		f.Add(data)
	}
	f.Add([]byte(`{"version":1,"id":"x","account":"a","kind":"friendtalk","recipients":[{"phone":"01012345678","content":"hi","price":9223372036854775808}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"version":1.0,"id":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := Decode(data)
		if err != nil {
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		out, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas.ValidateJob(out); err != nil {
			t.Fatalf("accepted job re-encodes to an invalid one: %v\nin:  %s\nout: %s", err, data, out)
		}
	})
}

func TestPriority(t *testing.T) {
	t.Parallel()
	doc := func(priority string) []byte {
		return []byte(`{"version":1,"id":"p1","account":"acct","kind":"alimtalk","template":"OTP",` + priority +
			`"recipients":[{"phone":"01012345678","content":"Your code is 482913."}]}`)
	}
	valid := []struct {
		name, member string
		want         Priority
		urgent       bool
	}{
		{"absent", ``, "", false},
		{"normal", `"priority":"normal",`, PriorityNormal, false},
		{"urgent", `"priority":"urgent",`, PriorityUrgent, true},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := doc(tt.member)
			if _, ok := decodeFast(data); !ok {
				t.Error("the fast path does not take it")
			}
			j, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if j.Priority != tt.want || j.Urgent() != tt.urgent {
				t.Errorf("Priority %q, Urgent() %v; want %q, %v", j.Priority, j.Urgent(), tt.want, tt.urgent)
			}
			// The field survives a round trip, and an absent one stays absent.
			out, err := j.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(out), `"priority"`); got != (tt.member != "") {
				t.Errorf("encoded: %s", out)
			}
			again, err := Decode(out)
			if err != nil || again.Priority != tt.want {
				t.Errorf("re-decoded: %v, %+v", err, again)
			}
		})
	}
	for _, member := range []string{
		`"priority":"high",`, `"priority":"Urgent",`, `"priority":"",`, `"priority":"urgent ",`,
		`"priority":null,`, `"priority":1,`, `"priority":true,`,
	} {
		t.Run(member, func(t *testing.T) {
			t.Parallel()
			data := doc(member)
			if _, ok := decodeFast(data); ok {
				t.Error("the fast path accepts it")
			}
			_, err := Decode(data)
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("err = %#v, want a *Error", err)
			}
			if je.Reason != "schema" || je.ID != "p1" || je.Account != "acct" || je.Kind != "alimtalk" {
				t.Errorf("error %+v", je)
			}
			if !strings.Contains(err.Error(), "/priority:") {
				t.Errorf("error does not name priority: %v", err)
			}
		})
	}
	if (&Job{Priority: "Urgent"}).Urgent() {
		t.Error(`Urgent() is true for "Urgent"`)
	}
}
