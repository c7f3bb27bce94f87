package enqueue

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/schemas"
)

// playReports stands in for the report pollers: it reports every accepted
// result delivered, until ctx ends.
func playReports(ctx context.Context, t *testing.T, js jetstream.JetStream) <-chan error {
	t.Helper()
	cons, err := js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.ResultsPrefix + ".*.accepted.>"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for ctx.Err() == nil {
				batch, err := cons.Fetch(100, jetstream.FetchMaxWait(200*time.Millisecond))
				if err != nil {
					return err
				}
				var evs []*report.Event
				for m := range batch.Messages() {
					var r result.Event
					if err := json.Unmarshal(m.Data(), &r); err != nil {
						return err
					}
					evs = append(evs, &report.Event{Version: report.Version, JobID: r.JobID, RecipientIndex: r.RecipientIndex,
						Ref: r.Ref, Phone: r.Phone, Account: r.Account, Provider: r.Provider, State: report.Delivered, Code: "S000", Time: time.Now()})
				}
				if err := report.Publish(ctx, js, evs); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	return done
}

func TestWaitReportsPrintsOneReportPerAcceptedRecipient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	worker, reporter := playWorker(ctx, t, e.js), playReports(ctx, t, e.js)
	defer func() {
		cancel()
		for _, c := range []<-chan error{worker, reporter} {
			if err := <-c; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("worker: %v", err)
			}
		}
	}()
	// Four jobs; the recipients with phones ending in 0 fail: no report for them.
	content := ndjson(3, "rep") + `{"version":1,"id":"multi","account":"other","kind":"friendtalk","recipients":[` +
		`{"phone":"01011110001","ref":"a","content":"x"},{"phone":"01011110000","ref":"b","content":"x"}]}` + "\n"
	code, stdout, stderr := e.run(t, "", "-f", e.file(t, "jobs.ndjson", content), "--wait", "--reports", "--timeout", "30s")
	if code != ExitNotAccepted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitNotAccepted, stderr)
	}
	for _, want := range []string{"enqueue: results: 3 accepted, 2 failed\n", "enqueue: reports: 3 delivered\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var results, reports []string
	for line := range strings.Lines(stdout) {
		switch {
		case schemas.ValidateResult([]byte(line)) == nil:
			results = append(results, line)
		case schemas.ValidateReport([]byte(line)) == nil:
			reports = append(reports, line)
		default:
			t.Errorf("stdout line is neither a result nor a report: %q", line)
		}
	}
	if len(results) != 5 || len(reports) != 3 {
		t.Errorf("%d results and %d reports, want 5 and 3:\n%s", len(results), len(reports), stdout)
	}
	if !strings.HasSuffix(stdout, reports[len(reports)-1]) {
		t.Errorf("reports are not printed after the results:\n%s", stdout)
	}
}

func TestWaitReportsTimesOutNamingTheRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	worker := playWorker(ctx, t, e.js) // results, but no reports
	defer func() {
		cancel()
		if err := <-worker; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("worker: %v", err)
		}
	}()
	// The jobs and their results are stored before the run that waits:
	// its timeout is spent waiting for reports only.
	jobs := e.file(t, "jobs.ndjson", ndjson(2, "quiet"))
	if code, _, stderr := e.run(t, "", "-f", jobs, "--wait"); code != ExitNotAccepted {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	code, _, stderr := e.run(t, "", "-f", jobs, "--wait", "--reports", "--timeout", "3s")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	for _, want := range []string{"enqueue: results: 1 accepted, 1 failed", "timed out after 3s waiting for reports", "job quiet-2: 1 without a report (recipient index 0)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
