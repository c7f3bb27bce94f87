package reconcile

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/dedupe"
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/retry"
	"github.com/talkrelay/talkrelay/internal/store"
	"github.com/talkrelay/talkrelay/internal/streams"
)

func TestRequestRecordJSON(t *testing.T) {
	t.Parallel()
	sends := []Send{{"a", 7, 0, 1}, {"b", 0, 2, 1}, {"a", 7, 3, 2}}
	at := time.Date(2026, 11, 21, 5, 0, 0, 123, time.UTC)
	r := newRequestRecord(sends, at)
	want, _ := json.Marshal(r)
	if got := requestRecordJSON(sends, at); string(got) != string(want) {
		t.Fatalf("requestRecordJSON %s, want %s", got, want)
	}
	if len(r.Jobs) != 2 || !reflect.DeepEqual(r.Jobs[0].Sends, [][2]int{{0, 1}, {3, 2}}) || r.Jobs[1].Seq != 0 {
		t.Errorf("record %+v; want job a's two sends, then job b's", r)
	}
}

// requestRecordJSON writes what encoding/json writes of the record that
// groups the sends by job, whatever their order (jobs of a byte each).
func FuzzRequestRecordJSON(f *testing.F) {
	f.Add([]byte("aabab"), int64(1700000000123456789))
	f.Add([]byte("\x00\xff\x00\x01"), int64(0))
	f.Fuzz(func(t *testing.T, jobs []byte, at int64) {
		if len(jobs) == 0 {
			t.Skip("a request has a recipient")
		}
		sends := make([]Send, len(jobs))
		for i, c := range jobs {
			sends[i] = Send{JobID: "job-" + string(rune(c%8)), JobSeq: uint64(c % 3), Index: i * int(c), Attempt: int(c>>4) - 3}
		}
		now := time.Unix(0, at).UTC()
		want, err := json.Marshal(newRequestRecord(sends, now))
		if err != nil {
			t.Skip(err) // a time encoding/json cannot write
		}
		if got := requestRecordJSON(sends, now); string(got) != string(want) {
			t.Fatalf("requestRecordJSON %s, want %s", got, want)
		}
	})
}

// newRequestRecord groups sends by job, in the order the jobs first
// appear, and takes each job's sequence from its first send: the record
// requestRecordJSON writes.
func newRequestRecord(sends []Send, now time.Time) *requestRecord {
	rec := &requestRecord{At: now}
	byJob := map[string]int{}
	for _, s := range sends {
		i, ok := byJob[s.JobID]
		if !ok {
			i = len(rec.Jobs)
			byJob[s.JobID] = i
			rec.Jobs = append(rec.Jobs, jobSends{Key: jobKey(s.JobID), Seq: s.JobSeq})
		}
		rec.Jobs[i].Sends = append(rec.Jobs[i].Sends, [2]int{s.Index, s.Attempt})
	}
	return rec
}

func TestEnvelopeRecord(t *testing.T) {
	t.Parallel()
	if a, l := EnvelopeName(false, 0), EnvelopeName(true, 12); a != "a0" || l != "l12" {
		t.Errorf("EnvelopeName = %q, %q; want a0, l12", a, l)
	}
	m := (&Records{apiPrefix: streams.DefaultAPIPrefix}).EnvelopeRecord("order.1", "order%1", "l3", []byte("env"))
	// <job key>.e.<parent token>.<name>: the job key is the first 12 bytes
	// of sha256("order.1") in hex (dedupe.JobKey), the parent token those
	// of sha256("order%1") (streams.HashToken).
	want := "$KV.talkrelay_sends.c830826c4538e5bb0fcb163c.e.64416939cefba8acd892f6ef.l3"
	if m.Subject != want || string(m.Data) != "env" || len(m.Header) != 0 {
		t.Errorf("record %q %q %v, want %q", m.Subject, m.Data, m.Header, want)
	}
	// Through a JetStream domain the write goes behind its API prefix, as
	// nats.go's KeyValue.Put writes.
	m = (&Records{apiPrefix: "$JS.hub.API"}).EnvelopeRecord("order.1", "order%1", "l3", []byte("env"))
	if want = "$JS.hub.API." + want; m.Subject != want {
		t.Errorf("record through domain hub on %q, want %q", m.Subject, want)
	}
}

func TestMarkSent(t *testing.T) {
	t.Parallel()
	t1 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)
	earlier := &retry.Outcome{Class: providers.Retryable.String(), Code: "B001"}
	pending := []retry.Pending{
		{Index: 0}, // sent, no answer recorded
		{Index: 1, Attempts: 1, FirstSentAt: t1, Last: earlier}, // its second attempt was sent
		{Index: 2, Attempts: 2, FirstSentAt: t1, Last: earlier}, // the record is of an attempt it knows
		{Index: 3}, // final already
		{Index: 4}, // never sent
	}
	sent := map[int]sendRecordEntry{0: {1, t1}, 1: {2, t2}, 2: {2, t2}, 3: {1, t1}}
	markSent(pending, map[int]bool{3: true}, sent)

	unknown := &retry.Outcome{Class: providers.Unknown.String(), Reason: result.ReasonOutcomeUnknown,
		Message: "a worker stopped after handing this message to the provider, before recording the answer"}
	want := []retry.Pending{
		{Index: 0, Attempts: 1, Lookup: true, FirstSentAt: t1, LastSentAt: t1, Last: unknown},
		{Index: 1, Attempts: 2, Lookup: true, FirstSentAt: t1, LastSentAt: t2, Last: unknown},
		{Index: 2, Attempts: 2, FirstSentAt: t1, Last: earlier},
		{Index: 3},
		{Index: 4},
	}
	for i := range want {
		if !reflect.DeepEqual(pending[i], want[i]) {
			t.Errorf("recipient %d: %+v\nwant %+v", i, pending[i], want[i])
		}
	}
}

// Reconcile against a real server: a job delivered again after a worker
// recorded two batches, stored one final result and wrote one follow-up
// envelope before it died.
func TestReconcile(t *testing.T) {
	t.Parallel()
	js, kv, r := newRecords(t)
	ctx := t.Context()
	const jobID, parent = "order.1", "order%1"
	t1 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)

	// Request 1 took recipients 0-2 (and another job's), request 2
	// recipient 1 again; a version before request records recorded
	// recipient 5 in a record of the job's own.
	if err := r.RecordBatch(ctx, "shop", "b1", []Send{{jobID, 7, 0, 1}, {"other", 9, 0, 1}, {jobID, 7, 1, 1}, {jobID, 7, 2, 1}}, t1); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordBatch(ctx, "shop", "b2", []Send{{jobID, 7, 1, 2}}, t2); err != nil {
		t.Fatal(err)
	}
	// Another account's request of the same job id is not this job's.
	if err := r.RecordBatch(ctx, "mall", "b3", []Send{{jobID, 3, 4, 1}}, t2); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, dedupe.JobKey(jobID)+".b.old", []byte(`{"at":"2026-11-21T12:00:00Z","seq":7,"sends":[[5,1]]}`)); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, requestKey("shop", "b1"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"at":"2026-11-21T12:00:00Z","jobs":[{"job":"` + dedupe.JobKey(jobID) + `","seq":7,"sends":[[0,1],[1,1],[2,1]]},{"job":"` +
		dedupe.JobKey("other") + `","seq":9,"sends":[[0,1]]}]}`
	if string(e.Value()) != want {
		t.Errorf("send record %s, want %s", e.Value(), want)
	}
	// Recipient 0 has its final result; recipient 3 went to an envelope of
	// this delivery, recipient 4 to one of another delivery.
	ev := result.ForRecipient(&job.Job{ID: jobID, Account: "shop"}, 0, "sandbox", t2)
	ev.Status, ev.Reason = result.Accepted, result.ReasonOK
	if _, err := js.PublishMsg(ctx, store.Result(store.Origin{Seq: 7, JobSeq: 7}, ev)); err != nil {
		t.Fatal(err)
	}
	envelope := func(id string, index int) []byte {
		env := &retry.Envelope{ID: id, DueAt: t2, Round: 1, JobSeq: 7,
			Job:     &job.Job{ID: jobID, Account: "shop", Kind: job.AlimTalk, Recipients: []job.Recipient{{Phone: "01012345678"}}},
			Pending: []retry.Pending{{Index: index, Attempts: 1}}}
		data, err := env.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, m := range []*nats.Msg{
		r.EnvelopeRecord(jobID, parent, EnvelopeName(false, 0), envelope(parent+".a0", 3)),
		r.EnvelopeRecord(jobID, parent+".a0", EnvelopeName(false, 0), envelope(parent+".a0.a0", 4)),
	} {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	pending := make([]retry.Pending, 6)
	for i := range pending {
		pending[i].Index = i
	}
	var scheduled []string
	scan := r.NewScan()
	scan.Want("shop", jobID, time.Now().Add(-time.Minute))
	skip, sent, err := r.Reconcile("shop", jobID, parent, pending, scan, func(env *retry.Envelope) { scheduled = append(scheduled, env.ID) })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(skip, map[int]bool{0: true, 3: true}) || sent != 4 {
		t.Errorf("skip %v, %d recipients with send records; want 0 and 3, 4", skip, sent)
	}
	if !reflect.DeepEqual(scheduled, []string{parent + ".a0"}) {
		t.Errorf("scheduled %q, want this delivery's envelope only", scheduled)
	}
	for i, want := range []struct {
		attempts int
		lookup   bool
		last     time.Time
	}{{0, false, time.Time{}}, {2, true, t2}, {1, true, t1}, {0, false, time.Time{}}, {0, false, time.Time{}}, {1, true, t1}} {
		p := pending[i]
		if p.Attempts != want.attempts || p.Lookup != want.lookup || !p.LastSentAt.Equal(want.last) {
			t.Errorf("recipient %d: %d attempts, lookup %v, last sent %s; want %d, %v, %s", i, p.Attempts, p.Lookup, p.LastSentAt,
				want.attempts, want.lookup, want.last)
		}
	}

	finals, err := r.Finals("shop", jobID)
	if err != nil || !reflect.DeepEqual(finals, map[int]bool{0: true}) {
		t.Errorf("Finals = %v, %v; want recipient 0", finals, err)
	}
}

// Finals reads every stored result of a job, past one direct get batch,
// among other jobs' results, and creates no consumer (a worker that takes
// over many jobs at once must not create a consumer for each).
func TestFinalsReadsEveryResultWithoutAConsumer(t *testing.T) {
	t.Parallel()
	js, _, r := newRecords(t)
	ctx := t.Context()
	const recipients = finalsBatch + 500
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for i := range recipients {
		for _, id := range []string{"big.1", "other"} {
			ev := result.ForRecipient(&job.Job{ID: id, Account: "shop"}, i, "sandbox", at)
			ev.Status, ev.Reason = result.Accepted, result.ReasonOK
			if i%3 == 0 {
				ev.Status, ev.Reason = result.Failed, result.ReasonProviderRejected
			}
			if _, err := js.PublishMsgAsync(store.Result(store.Origin{Seq: 7}, ev)); err != nil {
				t.Fatal(err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("results not stored")
	}
	finals, err := r.Finals("shop", "big.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(finals) != recipients {
		t.Errorf("Finals found %d recipients' results, want %d", len(finals), recipients)
	}
	stream, err := js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := stream.Info(ctx); err != nil || info.State.Consumers != 0 {
		t.Errorf("results stream consumers after Finals: %v (%v); want 0", info.State.Consumers, err)
	}
	if finals, err := r.Finals("shop", "none"); err != nil || len(finals) != 0 {
		t.Errorf("Finals of a job without results = %v, %v; want none", finals, err)
	}
}

// newRecords starts a NATS server with talkrelay's streams and returns its
// JetStream, the send-records bucket and Records on them.
func newRecords(t *testing.T) (jetstream.JetStream, jetstream.KeyValue, *Records) {
	t.Helper()
	srv := natstest.Run(t)
	_, js := srv.JetStream(t)
	natstest.EnsureStreams(t, js)
	kv, err := js.KeyValue(t.Context(), streams.SendsBucket)
	if err != nil {
		t.Fatal(err)
	}
	return js, kv, New(js, kv)
}

// A Scan reads an account's request records once for every job registered
// with it, from the earliest message's stored time less Skew: records
// stored before that belong to earlier messages and are left out.
func TestScanReadsRequestsSinceTheEarliestMessage(t *testing.T) {
	t.Parallel()
	_, _, r := newRecords(t)
	ctx := t.Context()
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	if err := r.RecordBatch(ctx, "shop", "before", []Send{{"a", 1, 0, 1}}, at); err != nil {
		t.Fatal(err)
	}
	stored := time.Now().Add(Skew) // as if the messages were stored now, after the first record
	if err := r.RecordBatch(ctx, "shop", "after", []Send{{"a", 1, 1, 1}, {"b", 2, 0, 2}, {"c", 3, 0, 1}}, at); err != nil {
		t.Fatal(err)
	}
	scan := r.NewScan()
	scan.Want("shop", "a", stored)
	scan.Want("shop", "b", stored.Add(time.Minute))
	for job, want := range map[string]map[int]sendRecordEntry{"a": {1: {1, at}}, "b": {0: {2, at}}} {
		got, err := scan.sent("shop", job)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("job %s: sent %v, %v; want %v", job, got, err, want)
		}
	}
	if _, err := scan.sent("shop", "c"); err == nil {
		t.Error("a job not registered with the scan was answered")
	}
}
