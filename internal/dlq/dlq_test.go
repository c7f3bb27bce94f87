package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/internal/worker/workertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, natstest.LeakOptions()...)
}

// env is a NATS server with the talkrelay streams.
type env struct {
	srv *natstest.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	dir string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := natstest.Run(t)
	nc, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	return &env{srv: srv, nc: nc, js: js, dir: t.TempDir()}
}

// run runs dlq against the env's server with stdin.
func (e *env) run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code = Main(ctx, append([]string{"--nats-url", e.srv.ClientURL()}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// waitFor polls cond until it holds; it fails the test after a minute,
// a bound only a broken run reaches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// count is how many messages of stream match filter.
func (e *env) count(t *testing.T, stream, filter string) uint64 {
	t.Helper()
	n, err := streams.SubjectCount(context.Background(), e.js, stream, filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) jobsDrained(t *testing.T) bool {
	t.Helper()
	s, err := e.js.Stream(context.Background(), streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs == 0
}

// publishJob publishes data to the sandbox's AlimTalk subject, with
// Nats-Msg-Id msgID unless empty.
func (e *env) publishJob(t *testing.T, data, msgID string) {
	t.Helper()
	m := nats.NewMsg(streams.JobSubject("sandbox", "alimtalk"))
	m.Data = []byte(data)
	if msgID != "" {
		m.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// invalidJob has a recipient whose phone is not a phone number.
func invalidJob(id string) string {
	return `{"version":1,"id":"` + id + `","account":"sandbox","kind":"alimtalk","template":"OTP_CODE","recipients":[` +
		`{"phone":"01012345678","content":"[Talkrelay] Your code is 1."},` +
		`{"phone":"010-9876-543x","content":"[Talkrelay] Your code is 2."}]}`
}

func listLines(t *testing.T, stdout string) []listLine {
	t.Helper()
	var out []listLine
	for line := range strings.Lines(stdout) {
		var l listLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("list --json line %q: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

// A job rejected as invalid is listed and shown with its phone numbers
// masked; replayed as stored it is skipped (still invalid); fixed from show
// --raw and replayed with --new-id it is sent under the new id and its
// recipients are accepted, and --delete removes the dead letter.
func TestReplayFixedInvalidJobWithNewIDIsAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	workertest.StartSandbox(t, e.srv.ClientURL())
	e.publishJob(t, invalidJob("order-1"), "order-1")
	waitFor(t, "the dead letter", func() bool { return e.count(t, streams.DLQStream, streams.DLQPrefix+".>") == 1 })

	code, stdout, stderr := e.run(t, "", "--json", "list", "--reason", "invalid_job")
	letters := listLines(t, stdout)
	if code != ExitOK || len(letters) != 1 || letters[0].JobID != "order-1" || letters[0].Account != "sandbox" {
		t.Fatalf("list: exit %d, %+v\nstderr: %s", code, letters, stderr)
	}
	seq := strconvU(letters[0].Seq)

	code, stdout, _ = e.run(t, "", "--json", "show", seq)
	var doc showDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != ExitOK {
		t.Fatalf("show: exit %d, %v: %s", code, err, stdout)
	}
	if strings.Contains(stdout, "01012345678") || strings.Contains(stdout, "9876") ||
		!strings.Contains(string(doc.Job), `"010****5678"`) || !strings.Contains(string(doc.Job), `"010****543x"`) {
		t.Errorf("show does not mask the phone numbers: %s", stdout)
	}
	if !strings.HasPrefix(doc.Headers[streams.HeaderReason][0], "invalid_job") || doc.Headers[streams.HeaderSubject][0] != "talkrelay.jobs.sandbox.alimtalk" || doc.Size <= doc.DataBytes {
		t.Errorf("show: %+v", doc)
	}
	code, stdout, _ = e.run(t, "", "show", seq)
	if code != ExitOK || strings.Contains(stdout, "01012345678") || !strings.Contains(stdout, "Talkrelay-Reason: invalid_job") {
		t.Errorf("show (text): exit %d\n%s", code, stdout)
	}

	code, stdout, _ = e.run(t, "", "replay", seq, "--yes", "--new-id", "again")
	if code != ExitFailed || !strings.Contains(stdout, "skipped") || !strings.Contains(stdout, "still invalid") {
		t.Errorf("replay of the invalid job: exit %d\n%s", code, stdout)
	}

	code, raw, _ := e.run(t, "", "show", seq, "--raw")
	if code != ExitOK || raw != invalidJob("order-1") {
		t.Fatalf("show --raw: exit %d: %s", code, raw)
	}
	fixed := filepath.Join(e.dir, "job.json")
	if err := os.WriteFile(fixed, []byte(strings.Replace(raw, "010-9876-543x", "010-9876-5432", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = e.run(t, "n\n", "replay", seq, "--body", fixed, "--new-id", "fix1")
	if code != ExitFailed || !strings.Contains(stderr, "not confirmed") {
		t.Errorf("replay answered no: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = e.run(t, "y\n", "--json", "replay", seq, "--body", fixed, "--new-id", "fix1", "--delete")
	var r replay
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != ExitOK {
		t.Fatalf("replay: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	if r.Status != "published" || r.JobID != "order-1-fix1" || r.Recipients != 2 || !r.Deleted || r.Subject != "talkrelay.jobs.sandbox.alimtalk" {
		t.Errorf("replay: %+v", r)
	}
	waitFor(t, "the accepted results", func() bool {
		return e.count(t, streams.ResultsStream, "talkrelay.results.sandbox.accepted.order-1-fix1") == 2
	})
	if n := e.count(t, streams.DLQStream, streams.DLQPrefix+".>"); n != 0 {
		t.Errorf("%d dead letters left after --delete", n)
	}
}

// A fixed job replayed under its own id sends nothing: NATS drops it within
// the jobs stream's duplicate window, and after (a producer that set no
// Nats-Msg-Id) the worker drops it for its id's results. The output says so.
func TestReplayWithoutNewIDOfAJobWithResultsSendsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	workertest.StartSandbox(t, e.srv.ClientURL())
	e.publishJob(t, invalidJob("order-2"), "order-2") // NATS remembers the id
	e.publishJob(t, invalidJob("order-3"), "")        // NATS does not
	waitFor(t, "the dead letters", func() bool { return e.count(t, streams.DLQStream, streams.DLQPrefix+".>") == 2 })

	_, stdout, _ := e.run(t, "", "--json", "list")
	letters := listLines(t, stdout)
	if len(letters) != 2 {
		t.Fatalf("list: %s", stdout)
	}
	for _, l := range letters {
		code, raw, _ := e.run(t, "", "show", strconvU(l.Seq), "--raw")
		fixed := filepath.Join(e.dir, l.JobID+".json")
		if err := os.WriteFile(fixed, []byte(strings.Replace(raw, "010-9876-543x", "010-9876-5432", 1)), 0o600); err != nil || code != ExitOK {
			t.Fatal(code, err)
		}
		code, stdout, stderr := e.run(t, "", "--json", "replay", strconvU(l.Seq), "--body", fixed, "--yes")
		var r replay
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != ExitOK {
			t.Fatalf("replay %s: exit %d, %v\n%s\n%s", l.JobID, code, err, stdout, stderr)
		}
		switch l.JobID {
		case "order-2":
			if r.Status != "duplicate" || !strings.Contains(r.Note, "nothing will be sent") {
				t.Errorf("replay of order-2: %+v", r)
			}
		case "order-3":
			if r.Status != "published" || !strings.Contains(r.Note, "has 1 result(s) stored: a worker sends NOTHING") {
				t.Errorf("replay of order-3: %+v", r)
			}
		}
	}
	// The worker acknowledges (so deletes) the replayed job only after
	// deciding what to do with it: then its results are final.
	waitFor(t, "the worker to take the replayed job", func() bool { return e.jobsDrained(t) })
	for _, id := range []string{"order-2", "order-3"} {
		if n := e.count(t, streams.ResultsStream, streams.JobResultsFilter("sandbox", id)); n != 1 {
			t.Errorf("job %s: %d results, want only its first rejection", id, n)
		}
	}
}

// deadLetter stores a dead letter as the worker does.
func (e *env) deadLetter(t *testing.T, dl *store.DeadLetter, seq uint64) *Letter {
	t.Helper()
	ctx := context.Background()
	ack, err := e.js.PublishMsg(ctx, dl.Msg(seq))
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.js.Stream(ctx, streams.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	l, err := get(ctx, s, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func job3(id string) []byte {
	return []byte(`{"version":1,"id":"` + id + `","account":"sandbox","kind":"alimtalk","template":"T","recipients":[` +
		`{"phone":"01000000000","content":"a"},{"phone":"01011111111","content":"b"},{"phone":"01022222222","content":"c"}]}`)
}

// list filters by account, reason prefix and time, and stops at --limit.
func TestListFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deadLetter(t, &store.DeadLetter{Account: "shop", JobID: "a", Subject: "talkrelay.jobs.shop.alimtalk", Reason: "invalid_job: bad", Data: job3("a")}, 1)
	b := e.deadLetter(t, &store.DeadLetter{Account: "bank", JobID: "b", Subject: "talkrelay.jobs.bank.alimtalk", Reason: "unknown_account: bank", Data: job3("b")}, 2)
	c := e.deadLetter(t, &store.DeadLetter{Account: "shop", JobID: "c", Subject: "talkrelay.jobs.shop.alimtalk", Reason: "2 recipient(s) ended without delivery: 2× S520", Recipients: []int{0, 2}, Data: job3("c")}, 3)
	e.deadLetter(t, &store.DeadLetter{Account: "shop", JobID: "d", Subject: "talkrelay.jobs.shop.alimtalk", Reason: "poison: crashed", Data: job3("d")}, 4)
	ids := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := e.run(t, "", append([]string{"--json", "list"}, args...)...)
		if code != ExitOK {
			t.Fatalf("list %q: exit %d: %s", args, code, stderr)
		}
		var got []string
		for _, l := range listLines(t, stdout) {
			got = append(got, l.JobID)
		}
		return strings.Join(got, ",")
	}
	at := func(l *Letter) string { return l.Time.Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "a,b,c,d"},
		{[]string{"--account", "shop"}, "a,c,d"},
		{[]string{"--reason", "unknown_account"}, "b"},
		{[]string{"--account", "shop", "--reason", "2 recipient"}, "c"},
		{[]string{"--since", at(b)}, "b,c,d"},
		{[]string{"--until", at(c)}, "a,b,c"},
		{[]string{"--since", at(b), "--until", at(c), "--account", "shop"}, "c"},
		{[]string{"--since", "1h"}, "a,b,c,d"},
		{[]string{"--limit", "2", "--account", "shop"}, "a,c"},
		{[]string{"--account", "nobody"}, ""},
	} {
		if got := ids(tc.args...); got != tc.want {
			t.Errorf("list %q: %s, want %s", tc.args, got, tc.want)
		}
	}
	code, stdout, _ := e.run(t, "", "list", "--account", "bank")
	if code != ExitOK || !strings.Contains(stdout, "SEQ") || !strings.Contains(stdout, "unknown_account: bank") {
		t.Errorf("list table: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := e.run(t, "", "list", "--since", "yesterday"); code != ExitUsage {
		t.Errorf("--since yesterday: exit %d: %s", code, stderr)
	}
}

// A dead letter about some recipients replays only those: from the whole
// job of a first round, and the whole data of a retry round's letter (which
// holds that round's recipients only), to the jobs subject of its lane.
func TestReplayOnlyTheRecipientsOfTheDeadLetter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.deadLetter(t, &store.DeadLetter{Account: "sandbox", JobID: "p", Subject: "talkrelay.jobs.sandbox.alimtalk",
		Reason: "2 recipient(s) ended without delivery: 2× S520", Recipients: []int{0, 2}, Data: job3("p")}, 1)
	var retryJob map[string]any
	if err := json.Unmarshal(job3("q"), &retryJob); err != nil {
		t.Fatal(err)
	}
	retryJob["recipients"] = retryJob["recipients"].([]any)[1:]
	retryData, _ := json.Marshal(retryJob)
	retried := e.deadLetter(t, &store.DeadLetter{Account: "sandbox", JobID: "q", Subject: "talkrelay.retry.sandbox.urgent",
		Reason: "2 recipient(s) ended without delivery: 2× S520", Recipients: []int{1, 2}, Data: retryData}, 2)
	mixed := e.deadLetter(t, &store.DeadLetter{Account: "sandbox", JobID: "r", Subject: "talkrelay.retry.sandbox",
		Reason: "1 recipient(s) ended without delivery: 1× S520", Recipients: []int{2}, Data: retryData}, 3)

	// A retry envelope dead-lettered as a whole (poison, or rejected in a
	// retry round) replays its job with the envelope's recipients.
	envJob, err := job.Decode(job3("s"))
	if err != nil {
		t.Fatal(err)
	}
	envJob.Recipients = envJob.Recipients[1:]
	env := &retry.Envelope{Version: 1, ID: "s.r1", Job: envJob, Pending: []retry.Pending{{Index: 1}, {Index: 2}}, Round: 1}
	envData, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	envelope := e.deadLetter(t, &store.DeadLetter{Account: "sandbox", JobID: "s", Subject: "talkrelay.retry.sandbox",
		Reason: "poison: crashed", Data: envData}, 4)

	code, stdout, stderr := e.run(t, "", "--json", "replay", strconvU(first.Seq), strconvU(retried.Seq), strconvU(mixed.Seq), strconvU(envelope.Seq), "--new-id", "x", "--dry-run")
	if code != ExitFailed {
		t.Errorf("replay with a letter that cannot be replayed: exit %d\n%s", code, stderr)
	}
	var got []replay
	for line := range strings.Lines(stdout) {
		var r replay
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 4 {
		t.Fatalf("replay: %s", stdout)
	}
	if r := got[0]; r.Status != "planned" || r.JobID != "p-x" || r.Recipients != 2 || r.Subject != "talkrelay.jobs.sandbox.alimtalk" || !strings.Contains(r.Note, "only recipients [0 2]") {
		t.Errorf("first-round letter: %+v", r)
	}
	if r := got[1]; r.Status != "planned" || r.JobID != "q-x" || r.Recipients != 2 || r.Subject != "talkrelay.jobs.sandbox.alimtalk.urgent" {
		t.Errorf("retry-round letter: %+v", r)
	}
	if r := got[2]; r.Status != "skipped" || !strings.Contains(r.Note, "cannot tell which") {
		t.Errorf("retry-round letter about fewer recipients than it holds: %+v", r)
	}
	if r := got[3]; r.Status != "planned" || r.JobID != "s-x" || r.Recipients != 2 || r.Subject != "talkrelay.jobs.sandbox.alimtalk" || !strings.Contains(r.Note, "every recipient of the job is sent again") {
		t.Errorf("envelope letter: %+v", r)
	}
	// The body published is the first letter's recipients 0 and 2.
	p := &replay{letter: first}
	if err := p.build(nil, "x"); err != nil {
		t.Fatal(err)
	}
	if s := string(p.msg.Data); !strings.Contains(s, "01000000000") || strings.Contains(s, "01011111111") || !strings.Contains(s, "01022222222") ||
		p.msg.Header.Get(jetstream.MsgIDHeader) != "p-x" {
		t.Errorf("replayed message: %v %s", p.msg.Header, s)
	}
	if n := e.count(t, streams.JobsStream, streams.JobsPrefix+".>"); n != 0 {
		t.Errorf("--dry-run published %d jobs", n)
	}
}

func strconvU(n uint64) string { return strconv.FormatUint(n, 10) }

// list reads past one fetch of the ordered consumer.
func TestListReadsEveryLetter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 600
	for i := range n {
		dl := &store.DeadLetter{Account: "shop", JobID: "j" + strconv.Itoa(i), Subject: "talkrelay.jobs.shop.alimtalk", Reason: "invalid_job: bad", Data: job3("j")}
		if _, err := e.js.PublishMsg(context.Background(), dl.Msg(uint64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := e.run(t, "", "--json", "list")
	letters := listLines(t, stdout)
	if code != ExitOK || len(letters) != n || letters[n-1].JobID != "j"+strconv.Itoa(n-1) {
		t.Errorf("list: exit %d, %d letters, want %d\n%s", code, len(letters), n, stderr)
	}
}

// The command line: --version, --help, and selections that make no sense.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := run("--version"); code != ExitOK || !strings.HasPrefix(out, "dlq ") {
		t.Errorf("--version: exit %d: %s", code, out)
	}
	if code, out := run("--help"); code != ExitOK || !strings.Contains(out, "--new-id SUFFIX") || !strings.Contains(out, "sends NOTHING") {
		t.Errorf("--help: exit %d: %s", code, out)
	}
	for _, args := range [][]string{
		{"replay"},
		{"replay", "1", "--account", "shop"},
		{"replay", "1", "2", "--body", "job.json"},
		{"replay", "1", "--new-id", "a b"},
		{"replay", "1", "--dry-run", "--delete"},
		{"show"},
		{"list", "--since", "tomorrow"},
	} {
		if code, out := run(args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d: %s", args, code, ExitUsage, out)
		}
	}
}
