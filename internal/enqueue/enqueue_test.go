package enqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
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

// run runs enqueue against the env's server.
func (e *env) run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	args = append([]string{"--nats-url", e.srv.ClientURL()}, args...)
	code = Main(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// file writes content into the env's directory and returns its path.
func (e *env) file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// jobs returns the jobs stored in the jobs stream, in order, each checked
// against the schema and its Nats-Msg-Id header against the job id.
func (e *env) jobs(t *testing.T) []*job.Job {
	t.Helper()
	return e.storedJobs(t, job.Decode)
}

// rawJobs is jobs without the schema check.
func (e *env) rawJobs(t *testing.T) []*job.Job {
	t.Helper()
	return e.storedJobs(t, func(data []byte) (*job.Job, error) {
		var j job.Job
		return &j, json.Unmarshal(data, &j)
	})
}

func (e *env) storedJobs(t *testing.T, decode func([]byte) (*job.Job, error)) []*job.Job {
	t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	st := s.CachedInfo().State
	var out []*job.Job
	for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get job message %d: %v", seq, err)
		}
		j, err := decode(m.Data)
		if err != nil {
			t.Fatalf("stored job %d: %v", seq, err)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != j.ID {
			t.Errorf("job %s: Nats-Msg-Id %q", j.ID, got)
		}
		if want := streams.JobSubjectFor(j.Account, string(j.Kind), j.Urgent()); m.Subject != want {
			t.Errorf("job %s: subject %s, want %s", j.ID, m.Subject, want)
		}
		out = append(out, j)
	}
	return out
}

// subjects returns the subject of every message in the jobs stream, in order.
func (e *env) subjects(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	st := s.CachedInfo().State
	var out []string
	for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get job message %d: %v", seq, err)
		}
		out = append(out, m.Subject)
	}
	return out
}

func jobIDs(jobs []*job.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

// example returns a job from schemas/examples as written.
func example(t *testing.T, name string) []byte {
	t.Helper()
	data, err := readExample(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readExample(name string) ([]byte, error) { return schemas.Files.ReadFile("examples/" + name) }

func compact(t *testing.T, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := compactInto(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func compactInto(b *bytes.Buffer, data []byte) error { return json.Compact(b, data) }

// ndjson returns n small valid jobs, one per line.
func ndjson(n int, idPrefix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"version":1,"id":"%s-%d","account":"sandbox","kind":"alimtalk","template":"T1","recipients":[{"phone":"0101234%04d","content":"hello %d"}]}`+"\n", idPrefix, i+1, i, i)
	}
	return b.String()
}

func TestSameFileTwicePublishesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.file(t, "jobs.ndjson", ndjson(50, "twice"))

	code, _, stderr := e.run(t, "", "-f", path)
	if code != ExitOK {
		t.Fatalf("first run: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "50 jobs published (50 recipients), 0 duplicates skipped, 0 invalid jobs, 0 failed") {
		t.Errorf("first run summary:\n%s", stderr)
	}
	code, _, stderr = e.run(t, "", "-f", path)
	if code != ExitOK {
		t.Fatalf("second run: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "0 jobs published (0 recipients), 50 duplicates skipped") {
		t.Errorf("second run summary:\n%s", stderr)
	}
	if got := len(e.jobs(t)); got != 50 {
		t.Errorf("stream holds %d jobs, want 50", got)
	}
}

func TestFileLayouts(t *testing.T) {
	t.Parallel()
	alim := example(t, "job-alimtalk.json")
	friend := example(t, "job-friendtalk.json")
	vars := example(t, "job-template-variables.json")
	tests := []struct {
		name    string
		content string
		stdin   bool
		want    []string
	}{
		{name: "pretty-printed single job", content: string(alim), want: []string{"order-20261121-0001"}},
		{name: "pretty-printed jobs one after another", content: string(alim) + "\n" + string(vars), want: []string{"order-20261121-0001", "otp-55120"}},
		{
			name:    "JSON array",
			content: "[\n" + string(alim) + ",\n" + string(friend) + ",\n" + string(vars) + "\n]\n",
			want:    []string{"order-20261121-0001", "promo-2026-11-spring-0001", "otp-55120"},
		},
		{name: "JSON array on one line", content: "[" + compact(t, alim) + "," + compact(t, vars) + "]", want: []string{"order-20261121-0001", "otp-55120"}},
		{name: "empty JSON array", content: " [ ]\n", want: nil},
		{
			name:    "NDJSON with blank lines and CRLF",
			content: compact(t, alim) + "\r\n\r\n" + compact(t, friend) + "\r\n" + compact(t, vars),
			want:    []string{"order-20261121-0001", "promo-2026-11-spring-0001", "otp-55120"},
		},
		{name: "NDJSON from stdin", content: ndjson(3, "stdin"), stdin: true, want: []string{"stdin-1", "stdin-2", "stdin-3"}},
		{name: "empty file", content: "\n\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var code int
			var stderr string
			if tt.stdin {
				code, _, stderr = e.run(t, tt.content, "-f", "-")
			} else {
				code, _, stderr = e.run(t, "", "-f", e.file(t, "jobs.json", tt.content))
			}
			if code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if got := jobIDs(e.jobs(t)); !slices.Equal(got, tt.want) {
				t.Errorf("published %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFileStoresJobUnchanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alim := example(t, "job-alimtalk.json")
	if code, _, stderr := e.run(t, "", "-f", e.file(t, "job.json", string(alim))); code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	s, err := e.js.Stream(context.Background(), streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.Data), compact(t, alim); got != want {
		t.Errorf("stored\n%s\nwant the file compacted\n%s", got, want)
	}
}

// The subjects are spelled out rather than taken from streams so that the
// test pins the layout the worker reads.
func TestFileUrgentJobsGoToTheUrgentSubject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	normal := `{"version":1,"id":"n-1","account":"sandbox","kind":"alimtalk","template":"T1","priority":"normal","recipients":[{"phone":"01012345678","content":"hi"}]}`
	content := compact(t, example(t, "job-otp-urgent.json")) + "\n" + ndjson(1, "plain") + normal + "\n"
	if code, _, stderr := e.run(t, "", "-f", e.file(t, "jobs.ndjson", content)); code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if got := jobIDs(e.jobs(t)); !slices.Equal(got, []string{"otp-login-20261121-7f3a9c", "plain-1", "n-1"}) {
		t.Fatalf("published %q", got)
	}
	want := []string{"talkrelay.jobs.sandbox.alimtalk.urgent", "talkrelay.jobs.sandbox.alimtalk", "talkrelay.jobs.sandbox.alimtalk"}
	if got := e.subjects(t); !slices.Equal(got, want) {
		t.Errorf("subjects %q, want %q", got, want)
	}
}

func TestInvalidJobsAreReportedAndSkipped(t *testing.T) {
	t.Parallel()
	valid := func(id string) string {
		return `{"version":1,"id":"` + id + `","account":"sandbox","kind":"alimtalk","template":"T1","recipients":[{"phone":"01012345678","content":"hi"}]}`
	}
	tests := []struct {
		name       string
		content    string
		wantIDs    []string
		wantErrs   []string // substrings of stderr, with FILE for the path
		wantAbsent []string
	}{
		{
			name: "NDJSON",
			content: valid("ok-1") + "\n" +
				`{"version":1,"id":"no-recipients","account":"sandbox","kind":"alimtalk","template":"T1"}` + "\n" +
				`{"version":1,"id":"broken",` + "\n" +
				"\n" +
				`{"version":1,"id":"bad-phone","account":"sandbox","kind":"alimtalk","template":"T1","recipients":[{"phone":"01098765432x","content":"hi"}]}` + "\n" +
				valid("ok-2") + "\n",
			wantIDs: []string{"ok-1", "ok-2"},
			wantErrs: []string{
				"FILE:2: invalid job no-recipients: ",
				"FILE:3: invalid job: not JSON",
				"FILE:5: invalid job bad-phone: /recipients/0/phone: '010*****432x' is not a phone number",
				"2 jobs published (2 recipients), 0 duplicates skipped, 3 invalid jobs, 0 failed",
			},
			wantAbsent: []string{"01098765432x"},
		},
		{
			name:     "JSON array with an invalid job",
			content:  "[\n  " + valid("ok-1") + ",\n  {\"id\": \"kindless\",\n   \"version\": 1}\n  ,\n" + valid("ok-2") + "\n]",
			wantIDs:  []string{"ok-1", "ok-2"},
			wantErrs: []string{"FILE:3: invalid job kindless: ", "1 invalid job,"},
		},
		{
			name:     "JSON array with a syntax error stops there",
			content:  "[\n" + valid("ok-1") + ",\n" + valid("ok-2") + ",\n{\"id\": oops}\n," + valid("never") + "]",
			wantIDs:  []string{"ok-1", "ok-2"},
			wantErrs: []string{"FILE:4: not JSON, stopped reading: "},
		},
		{
			name:     "pretty-printed job cut short",
			content:  "{\n  \"version\": 1,\n  \"id\": \"cut\"\n",
			wantErrs: []string{"FILE:4: not JSON, stopped reading: unexpected end of input"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			path := e.file(t, "jobs.json", tt.content)
			code, _, stderr := e.run(t, "", "-f", path)
			if code != ExitFailed {
				t.Errorf("exit %d, want %d", code, ExitFailed)
			}
			for _, want := range tt.wantErrs {
				if !strings.Contains(stderr, strings.ReplaceAll(want, "FILE", path)) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			for _, absent := range tt.wantAbsent {
				if strings.Contains(stderr, absent) {
					t.Errorf("stderr shows %q:\n%s", absent, stderr)
				}
			}
			if got := jobIDs(e.jobs(t)); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("published %q, want %q", got, tt.wantIDs)
			}
		})
	}
}

func TestStreamsMissing(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t)
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"--nats-url", srv.ClientURL(), "--account", "sandbox", "--template", "T", "--to", "01012345678", "--content", "hi"},
		strings.NewReader(""), &out, &errOut)
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	if !strings.Contains(errOut.String(), streams.ErrNotSetUp.Error()) {
		t.Errorf("stderr:\n%s", errOut.String())
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "help", args: []string{"--help"}, wantCode: ExitOK, wantStdout: "--nats-url=URL"},
		{name: "version", args: []string{"--version"}, wantCode: ExitOK, wantStdout: "enqueue "},
		{name: "nothing to do", args: nil, wantCode: ExitUsage, wantStderr: "nothing to enqueue"},
		{name: "two modes", args: []string{"-f", "x.json", "--to", "010"}, wantCode: ExitUsage, wantStderr: "use one input mode"},
		{name: "priority with a file", args: []string{"-f", "x.json", "--priority", "urgent"}, wantCode: ExitUsage, wantStderr: `--priority: only for a job from flags; in a jobs file or a campaign template (--job) set the job's "priority" field`},
		{name: "priority with a campaign", args: []string{"--csv", "x.csv", "--job", "j.json", "--priority", "normal"}, wantCode: ExitUsage, wantStderr: "--priority: only for a job from flags"},
		{name: "help documents priority", args: []string{"--help"}, wantCode: ExitOK, wantStdout: "--priority=normal|urgent"},
		{name: "csv without template", args: []string{"--csv", "x.csv"}, wantCode: ExitUsage, wantStderr: "--csv and --job go together"},
		{name: "recipients per job", args: []string{"--csv", "x.csv", "--job", "j.json", "--recipients-per-job", "0"}, wantCode: ExitUsage, wantStderr: "--recipients-per-job: 0"},
		{name: "unknown flag", args: []string{"--frobnicate"}, wantCode: ExitUsage, wantStderr: "unknown flag --frobnicate"},
		{name: "missing file", args: []string{"-f", "/nonexistent/jobs.json", "--nats-url", "nats://127.0.0.1:1"}, wantCode: ExitFailed, wantStderr: "open input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := Main(context.Background(), tt.args, strings.NewReader(""), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, out.String())
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, errOut.String())
			}
		})
	}
}

// playWorker stands in for the worker: it consumes the jobs and publishes
// one result event per recipient (failed for phones ending in 0; one
// rejection for a whole job of account "unknown") until ctx ends.
func playWorker(ctx context.Context, t *testing.T, js jetstream.JetStream) <-chan error {
	t.Helper()
	cons, err := js.CreateOrUpdateConsumer(ctx, streams.JobsStream, jetstream.ConsumerConfig{
		Durable:   streams.WorkerConsumer,
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	handle := func(m jetstream.Msg) error {
		j, err := job.Decode(m.Data())
		if err != nil {
			return err
		}
		if j.Account == "unknown" {
			// Rejected as a whole: one event with index -1.
			data, err := json.Marshal(result.Event{
				Version: result.Version, JobID: j.ID, RecipientIndex: -1, Account: j.Account, Kind: string(j.Kind),
				Status: result.Rejected, Reason: result.ReasonUnknownAccount, Message: "no such account", Time: time.Now().UTC(),
			})
			if err != nil {
				return err
			}
			if _, err := js.Publish(ctx, resultSubject(j, result.Rejected), data); err != nil {
				return err
			}
			return m.Ack()
		}
		for i, r := range j.Recipients {
			ev := result.Event{
				Version: result.Version, JobID: j.ID, RecipientIndex: i, Ref: r.Ref, Phone: r.MaskedPhone(),
				Account: j.Account, Provider: "sandbox", Kind: string(j.Kind),
				Status: result.Accepted, Reason: result.ReasonOK, Attempt: 1, Time: time.Now().UTC(),
			}
			if strings.HasSuffix(r.Phone, "0") {
				ev.Status, ev.Reason, ev.Code, ev.Message = result.Failed, result.ReasonProviderRejected, "3018", "cannot send"
			}
			data, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if _, err := js.Publish(ctx, resultSubject(j, ev.Status), data); err != nil {
				return err
			}
		}
		return m.Ack()
	}
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for ctx.Err() == nil {
				batch, err := cons.Fetch(100, jetstream.FetchMaxWait(200*time.Millisecond))
				if err != nil {
					return err
				}
				// Every message of the batch is read, even after an error, so
				// that the pull's goroutine ends before the test does.
				var herr error
				for m := range batch.Messages() {
					if herr == nil {
						herr = handle(m)
					}
				}
				if herr != nil {
					return herr
				}
				if err := batch.Error(); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	return done
}

// resultSubject is where the worker publishes a result of j:
// talkrelay.results.<account>.<status>.<job>. Spelled out here rather than
// taken from streams so that the test pins the layout enqueue filters on.
func resultSubject(j *job.Job, s result.Status) string {
	return streams.ResultsPrefix + "." + j.Account + "." + string(s) + "." + strings.ReplaceAll(j.ID, ".", "%")
}

func TestWaitPrintsOneResultPerRecipient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	// An earlier run's job and its result: a duplicate now.
	earlier := ndjson(1, "wait")
	if code, _, stderr := e.run(t, "", "-f", e.file(t, "earlier.ndjson", earlier)); code != ExitOK {
		t.Fatalf("earlier run: exit %d\n%s", code, stderr)
	}
	worker := playWorker(ctx, t, e.js)
	defer func() {
		cancel()
		if err := <-worker; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("worker: %v", err)
		}
	}()

	// wait-1 again (a duplicate), wait-2 and wait-3 with one recipient each,
	// a job with three and one the worker rejects as a whole.
	content := ndjson(3, "wait") + `{"version":1,"id":"multi","account":"other","kind":"friendtalk","recipients":[` +
		`{"phone":"01011110001","ref":"a","content":"x"},{"phone":"01011110000","ref":"b","content":"x"},{"phone":"01011110003","ref":"c","content":"x"}]}` + "\n" +
		`{"version":1,"id":"stray","account":"unknown","kind":"friendtalk","recipients":[{"phone":"01011110001","content":"x"},{"phone":"01011110002","content":"x"}]}` + "\n"
	code, stdout, stderr := e.run(t, "", "-f", e.file(t, "jobs.ndjson", content), "--wait", "--timeout", "30s")
	// Every recipient has its result, but not all are accepted.
	if code != ExitNotAccepted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitNotAccepted, stderr)
	}
	for _, want := range []string{
		"1 job was already enqueued before this run (duplicates: wait-1); showing their results",
		"enqueue: results: 4 accepted, 2 failed, 2 rejected\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	type key struct {
		job   string
		index int
	}
	got := map[key]result.Event{}
	for line := range strings.Lines(stdout) {
		var ev result.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		if err := schemas.ValidateResult([]byte(line)); err != nil {
			t.Errorf("stdout line %q: %v", line, err)
		}
		k := key{ev.JobID, ev.RecipientIndex}
		if _, dup := got[k]; dup {
			t.Errorf("two results for %v", k)
		}
		got[k] = ev
	}
	// wait-1's result was stored by the earlier run: a duplicate's results
	// are found by its job token and shown too.
	want := []key{{"wait-1", 0}, {"wait-2", 0}, {"wait-3", 0}, {"multi", 0}, {"multi", 1}, {"multi", 2}, {"stray", -1}}
	if len(got) != len(want) {
		t.Errorf("got %d results, want %d:\n%s", len(got), len(want), stdout)
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("no result for %v", k)
		}
	}
	if ev := got[key{"multi", 1}]; ev.Status != result.Failed || ev.Ref != "b" || ev.Phone != "010****0000" {
		t.Errorf("multi/1: %+v", ev)
	}
}

func TestWaitTimesOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// No worker: nothing answers.
	code, stdout, stderr := e.run(t, "", "-f", e.file(t, "jobs.ndjson", ndjson(2, "lonely")), "--wait", "--timeout", "300ms")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	if stdout != "" {
		t.Errorf("stdout: %q", stdout)
	}
	for _, want := range []string{"timed out after 300ms", "2 of 2 recipients have no result", "job lonely-1: 1 of 1 missing (recipient index 0)", "job lonely-2: 1 of 1 missing"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
