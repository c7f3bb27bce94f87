package enqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/internal/job"
)

const campaignTemplate = `{
  "version": 1,
  "id": "spring-sale",
  "account": "sandbox",
  "kind": "alimtalk",
  "template": "SPRING_SALE",
  "metadata": {"campaign": "spring"}
}`

func TestCampaign100kRows(t *testing.T) {
	t.Parallel()
	const rows = 100_000
	e := newEnv(t)
	var b strings.Builder
	b.Grow(rows * 48)
	b.WriteString("phone,ref,name,var.code\n")
	for i := range rows {
		fmt.Fprintf(&b, "010%08d,c%d,Kim %d,%06d\n", i, i, i, i)
	}
	csvPath := e.file(t, "recipients.csv", b.String())
	tmplPath := e.file(t, "campaign.json", campaignTemplate)

	start := time.Now()
	code, _, stderr := e.run(t, "", "--csv", csvPath, "--job", tmplPath)
	elapsed := time.Since(start)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	t.Logf("100k rows enqueued in %s", elapsed)
	if !strings.Contains(stderr, "100 jobs published (100000 recipients), 0 duplicates skipped, 0 invalid rows, 0 failed") {
		t.Errorf("summary:\n%s", stderr)
	}

	// Read the stream back without the schema check, which takes seconds
	// under -race; enqueue validated every job before publishing it.
	jobs := e.rawJobs(t)
	total := 0
	for i, j := range jobs {
		total += len(j.Recipients)
		if want := fmt.Sprintf("spring-sale-%d", i+1); j.ID != want {
			t.Errorf("job %d: id %s, want %s", i, j.ID, want)
		}
	}
	if total != rows {
		t.Errorf("%d recipients in the stream, want %d", total, rows)
	}
	// Spot-check one recipient against its row.
	last := jobs[len(jobs)-1]
	want := job.Recipient{Phone: "01000099999", Ref: "c99999", Variables: map[string]string{"name": "Kim 99999", "code": "099999"}}
	if diff := cmp.Diff(want, last.Recipients[len(last.Recipients)-1]); diff != "" {
		t.Errorf("last recipient (-want +got):\n%s", diff)
	}
	if string(last.Metadata) != `{"campaign":"spring"}` {
		t.Errorf("metadata %s", last.Metadata)
	}
}

func TestCampaign(t *testing.T) {
	t.Parallel()
	type jobWant struct {
		id         string
		recipients []job.Recipient
	}
	tests := []struct {
		name     string
		template string
		csv      string
		args     []string
		rerun    bool // run twice, check the second run
		wantCode int
		wantJobs []jobWant
		wantErrs []string // FILE: the CSV's path, JOB: the template's
		// wantSubjects, if set, are the jobs' subjects, spelled out to pin
		// the layout the worker reads.
		wantSubjects []string
	}{
		{
			name:     "a job with an invalid row is held back",
			template: campaignTemplate,
			csv:      "phone,content\n01011112222,one\n01011113333,two\n01011114444,three\n0101111x,four\n",
			args:     []string{"--recipients-per-job", "2"},
			wantCode: ExitFailed,
			wantJobs: []jobWant{
				{"spring-sale-1", []job.Recipient{{Phone: "01011112222", Content: "one"}, {Phone: "01011113333", Content: "two"}}},
			},
			wantErrs: []string{
				"FILE:5: invalid row: recipient/phone: '010*111x' is not a phone number",
				"FILE:4-5: job spring-sale-2 held back (1 invalid row of 2): fix them in place and run again",
				"1 job published (2 recipients), 0 duplicates skipped, 1 invalid row, 0 failed",
				"1 job held back for invalid rows",
			},
		},
		{
			name:     "with --skip-invalid, invalid rows keep their position",
			template: campaignTemplate,
			csv: "Phone,content,title\n" +
				"01011112222,one,T\n" +
				"12,two,\n" + // bad phone
				",three,\n" + // no phone
				"01011113333,four\n" + // too few fields
				"01011114444,\"five\nspans lines\",\n" +
				"01011115555,,\n", // neither content nor variables
			args:     []string{"--recipients-per-job", "2", "--skip-invalid"},
			wantCode: ExitFailed,
			wantJobs: []jobWant{
				{"spring-sale-1", []job.Recipient{{Phone: "01011112222", Content: "one", Title: "T"}}},
				{"spring-sale-3", []job.Recipient{{Phone: "01011114444", Content: "five\nspans lines"}}},
			},
			wantErrs: []string{
				"FILE:3: invalid row: recipient/phone: '**' is not a phone number",
				"FILE:4: invalid row: no phone",
				"FILE:5: invalid row: wrong number of fields",
				"FILE:8: invalid row: recipient: ",
				"2 jobs published (2 recipients), 0 duplicates skipped, 4 invalid rows, 0 failed",
			},
		},
		{
			name:     "rerun publishes nothing twice",
			template: campaignTemplate,
			csv:      "phone,content\n01011112222,one\n01011113333,two\n01011114444,three\n",
			args:     []string{"--recipients-per-job", "2"},
			rerun:    true,
			wantCode: ExitOK,
			wantJobs: []jobWant{
				{"spring-sale-1", []job.Recipient{{Phone: "01011112222", Content: "one"}, {Phone: "01011113333", Content: "two"}}},
				{"spring-sale-2", []job.Recipient{{Phone: "01011114444", Content: "three"}}},
			},
			wantErrs: []string{"0 jobs published (0 recipients), 2 duplicates skipped, 0 invalid rows, 0 failed"},
		},
		{
			name: "template recipient gives the defaults",
			template: `{"version":1,"id":"otp","account":"nhn-main","kind":"alimtalk","template":"OTP",
				"recipients":[{"buttons":[{"type":"WL","name":"Open","url_mobile":"https://x.example"}],"variables":{"shop":"Talkrelay","minutes":"5"}}]}`,
			csv:      "\ufeffphone,code,minutes,country_code\n01012345678,111111,,\n01087654321,222222,10,1\n",
			wantCode: ExitOK,
			wantJobs: []jobWant{{"otp-1", []job.Recipient{
				{Phone: "01012345678", Variables: map[string]string{"shop": "Talkrelay", "minutes": "5", "code": "111111"}, Buttons: []job.Button{{Type: "WL", Name: "Open", URLMobile: "https://x.example"}}},
				{Phone: "01087654321", CountryCode: "1", Variables: map[string]string{"shop": "Talkrelay", "minutes": "10", "code": "222222"}, Buttons: []job.Button{{Type: "WL", Name: "Open", URLMobile: "https://x.example"}}},
			}}},
		},
		{
			name:     "urgent template: every job is urgent",
			template: `{"version":1,"id":"reset","account":"sandbox","kind":"alimtalk","template":"PW_RESET","priority":"urgent"}`,
			csv:      "phone,content\n01011112222,one\n01011113333,two\n01011114444,three\n",
			args:     []string{"--recipients-per-job", "2"},
			wantCode: ExitOK,
			wantJobs: []jobWant{
				{"reset-1", []job.Recipient{{Phone: "01011112222", Content: "one"}, {Phone: "01011113333", Content: "two"}}},
				{"reset-2", []job.Recipient{{Phone: "01011114444", Content: "three"}}},
			},
			wantSubjects: []string{"talkrelay.jobs.sandbox.alimtalk.urgent", "talkrelay.jobs.sandbox.alimtalk.urgent"},
		},
		{
			name:         "normal template",
			template:     `{"version":1,"id":"news","account":"sandbox","kind":"friendtalk","priority":"normal"}`,
			csv:          "phone,content\n01011112222,one\n",
			wantCode:     ExitOK,
			wantJobs:     []jobWant{{"news-1", []job.Recipient{{Phone: "01011112222", Content: "one"}}}},
			wantSubjects: []string{"talkrelay.jobs.sandbox.friendtalk"},
		},
		{
			name:         "a priority column is a template variable, not the job's priority",
			template:     campaignTemplate,
			csv:          "phone,priority\n01011112222,urgent\n",
			wantCode:     ExitOK,
			wantJobs:     []jobWant{{"spring-sale-1", []job.Recipient{{Phone: "01011112222", Variables: map[string]string{"priority": "urgent"}}}}},
			wantSubjects: []string{"talkrelay.jobs.sandbox.alimtalk"},
		},
		{
			name:     "template with an unknown priority",
			template: `{"version":1,"id":"x","account":"a","kind":"friendtalk","priority":"high"}`,
			csv:      "phone\n01012345678\n",
			wantCode: ExitFailed,
			wantErrs: []string{"JOB: invalid job template x-9999999: /priority: value must be one of 'normal', 'urgent'"},
		},
		{
			name:     "template with a phone",
			template: `{"version":1,"id":"x","account":"a","kind":"friendtalk","recipients":[{"phone":"01012345678","content":"x"}]}`,
			csv:      "phone\n01012345678\n",
			wantCode: ExitFailed,
			wantErrs: []string{"JOB: invalid job template: its recipient has a phone"},
		},
		{
			name:     "template invalid",
			template: `{"version":1,"id":"x","account":"a","kind":"alimtalk"}`,
			csv:      "phone\n01012345678\n",
			wantCode: ExitFailed,
			wantErrs: []string{"JOB: invalid job template x-9999999: /: missing property 'template'"},
		},
		{
			name:     "template with an unknown field",
			template: `{"version":1,"id":"x","account":"a","kind":"friendtalk","recipent":[]}`,
			csv:      "phone\n01012345678\n",
			wantCode: ExitFailed,
			wantErrs: []string{`JOB: invalid job template: json: unknown field "recipent"`},
		},
		{
			name: "brand message: the template's brand goes to every row",
			template: `{"version":1,"id":"winter","account":"nhn-main","kind":"brandmessage","ad":true,
				"brand":{"bubble":"TEXT","content":"(광고) 겨울 세일","buttons":[{"type":"WL","name":"보기","url_mobile":"https://m.example.com"}]}}`,
			csv:          "phone,ref\n01011112222,a\n01011113333,b\n",
			wantCode:     ExitOK,
			wantJobs:     []jobWant{{"winter-1", []job.Recipient{{Phone: "01011112222", Ref: "a"}, {Phone: "01011113333", Ref: "b"}}}},
			wantSubjects: []string{"talkrelay.jobs.nhn-main.brandmessage"},
		},
		{
			name:     "template-based brand message takes variables from the rows",
			template: `{"version":1,"id":"bm","account":"nhn-main","kind":"brandmessage","ad":true,"template":"BM_1","brand":{"bubble":"WIDE"}}`,
			csv:      "phone,name\n01011112222,Kim\n",
			wantCode: ExitOK,
			wantJobs: []jobWant{{"bm-1", []job.Recipient{{Phone: "01011112222", Variables: map[string]string{"name": "Kim"}}}}},
		},
		{
			name:     "no phone column",
			template: campaignTemplate,
			csv:      "tel,content\n01012345678,x\n",
			wantCode: ExitFailed,
			wantErrs: []string{"FILE:1: header: no phone column"},
		},
		{
			name:     "duplicate column",
			template: campaignTemplate,
			csv:      "phone,name,var.name\n01012345678,x,y\n",
			wantCode: ExitFailed,
			wantErrs: []string{`FILE:1: header: column "var.name" appears twice`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			csvPath := e.file(t, "rows.csv", tt.csv)
			tmplPath := e.file(t, "job.json", tt.template)
			args := append([]string{"--csv", csvPath, "--job", tmplPath}, tt.args...)
			code, _, stderr := e.run(t, "", args...)
			if tt.rerun {
				if code != ExitOK {
					t.Fatalf("first run: exit %d; stderr:\n%s", code, stderr)
				}
				code, _, stderr = e.run(t, "", args...)
			}
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, want := range tt.wantErrs {
				want = strings.ReplaceAll(strings.ReplaceAll(want, "FILE", csvPath), "JOB", tmplPath)
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			var got []jobWant
			for _, j := range e.jobs(t) {
				got = append(got, jobWant{j.ID, j.Recipients})
			}
			if diff := cmp.Diff(tt.wantJobs, got, cmp.AllowUnexported(jobWant{})); diff != "" {
				t.Errorf("jobs (-want +got):\n%s", diff)
			}
			if tt.wantSubjects != nil {
				if diff := cmp.Diff(tt.wantSubjects, e.subjects(t)); diff != "" {
					t.Errorf("subjects (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// Fixing the bad row of a campaign and running it again sends what the
// first run held back, and --wait shows every row's result.
func TestCampaignRerunAfterAFixSendsTheFixedRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	worker := playWorker(ctx, t, e.js)
	defer func() {
		cancel()
		if err := <-worker; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("worker: %v", err)
		}
	}()
	tmplPath := e.file(t, "job.json", campaignTemplate)
	bad := "phone,content\n01011112221,one\n01011113331,two\n01011114441,three\n0101111x,four\n"
	code, stdout, stderr := e.run(t, "", "--csv", e.file(t, "bad.csv", bad), "--job", tmplPath, "--recipients-per-job", "2", "--wait", "--timeout", "30s")
	if code != ExitFailed || strings.Count(stdout, "\n") != 2 {
		t.Fatalf("first run: exit %d, want %d, stdout:\n%s\nstderr:\n%s", code, ExitFailed, stdout, stderr)
	}

	fixed := strings.Replace(bad, "0101111x", "01011115551", 1)
	code, stdout, stderr = e.run(t, "", "--csv", e.file(t, "fixed.csv", fixed), "--job", tmplPath, "--recipients-per-job", "2", "--wait", "--timeout", "30s")
	if code != ExitOK {
		t.Fatalf("rerun: exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"1 job published (2 recipients), 1 duplicate skipped, 0 invalid rows, 0 failed",
		"1 job was already enqueued before this run (duplicates: spring-sale-1); showing their results",
		"results: 4 accepted\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("rerun stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stdout, "\n"); n != 4 {
		t.Errorf("rerun printed %d results, want 4:\n%s", n, stdout)
	}
	// The worker took the jobs off the stream; their results tell what
	// they held.
	for _, want := range []string{`"job_id":"spring-sale-1","recipient_index":1`, `"job_id":"spring-sale-2","recipient_index":1`, `"phone":"010****5551"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("rerun results lack %s:\n%s", want, stdout)
		}
	}
}
