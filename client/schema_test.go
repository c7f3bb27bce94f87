package client

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
	"github.com/talkrelay/talkrelay/schemas"
)

// Every example of the schemas decodes into the client's types, with no
// field left over, and encodes back to the same JSON, which still validates.
func TestExamplesRoundTrip(t *testing.T) {
	names, err := fs.Glob(schemas.Files, "examples/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, name := range names {
		t.Run(path.Base(name), func(t *testing.T) {
			data, err := schemas.Files.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var back []byte
			validate := schemas.ValidateJob
			switch base := path.Base(name); {
			case strings.HasPrefix(base, "result-"):
				var r Result
				strictDecode(t, data, &r)
				back, validate = mustMarshal(t, r), schemas.ValidateResult
			case strings.HasPrefix(base, "cancel-request"):
				var r CancelRequest
				strictDecode(t, data, &r)
				back, validate = mustMarshal(t, r), schemas.ValidateCancelRequest
			case strings.HasPrefix(base, "cancel-reply"):
				var r CancelReply
				strictDecode(t, data, &r)
				back, validate = mustMarshal(t, r), schemas.ValidateCancelReply
			case strings.HasPrefix(base, "report-"):
				var r Report
				strictDecode(t, data, &r)
				back, validate = mustMarshal(t, r), schemas.ValidateReport
			default:
				var j Job
				strictDecode(t, data, &j)
				if back, err = j.Encode(); err != nil {
					t.Fatal(err)
				}
			}
			if err := validate(back); err != nil {
				t.Fatalf("re-encoded example does not validate: %v\n%s", err, back)
			}
			if !jsonEqual(t, data, back) {
				t.Fatalf("round trip changed the example:\nwant %s\ngot  %s", data, back)
			}
		})
	}
}

// A job and a result with every field of their schema set validate, and
// their JSON holds every property the schema defines, at its place: the
// types miss no field of the contract. The internal types read the same
// JSON and write it back unchanged, so the two cannot drift apart.
func TestTypesCoverTheSchemas(t *testing.T) {
	data, err := fullJob().Encode()
	if err != nil {
		t.Fatal(err)
	}
	checkCoverage(t, schemas.JobFile, data)
	ij, err := job.Decode(data)
	if err != nil {
		t.Fatalf("internal job.Decode: %v", err)
	}
	if back := mustMarshal(t, ij); !jsonEqual(t, data, back) {
		t.Errorf("internal job type changes the job:\nclient   %s\ninternal %s", data, back)
	}

	data = mustMarshal(t, fullResult())
	if err := schemas.ValidateResult(data); err != nil {
		t.Fatalf("full result does not validate: %v", err)
	}
	checkCoverage(t, schemas.ResultFile, data)
	var ev result.Event
	strictDecode(t, data, &ev)
	if back := mustMarshal(t, ev); !jsonEqual(t, data, back) {
		t.Errorf("internal result type changes the event:\nclient   %s\ninternal %s", data, back)
	}

	data = mustMarshal(t, fullReport())
	if err := schemas.ValidateReport(data); err != nil {
		t.Fatalf("full report does not validate: %v", err)
	}
	checkCoverage(t, schemas.ReportFile, data)
	var rep report.Event
	strictDecode(t, data, &rep)
	if back := mustMarshal(t, rep); !jsonEqual(t, data, back) {
		t.Errorf("internal report type changes the report:\nclient   %s\ninternal %s", data, back)
	}
}

func fullReport() Report {
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	return Report{
		Version: Version, JobID: "order.1", RecipientIndex: 0, Ref: "r1", Phone: "010****5678",
		Account: "shop", Provider: "nhn", Kind: "alimtalk", State: FallbackSent, Code: "3015", CodeName: "not_delivered",
		Message: "m", Fallback: &Fallback{Type: "LMS", Code: "1000", Message: "sent"}, ProviderMessageID: "msg",
		Metadata: json.RawMessage(`{"order":1}`), ReportedAt: &at, Time: at,
	}
}

func fullJob() *Job {
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	deadline := at.Add(time.Hour)
	seq, price := int64(7), int64(12000)
	pair := &Pair{Title: "Order", Description: "1234"}
	btn := Button{Type: "WL", Name: "Open", URLMobile: "https://m.example.com", URLPC: "https://example.com",
		SchemeIOS: "app://x", SchemeAndroid: "app://y", ChatExtra: "e", ChatEvent: "ev"}
	fo := &Failover{Enabled: Bool(true), Type: "LMS", From: "0212345678", Title: "t", Content: "c", UnsubscribeNo: "0801234567"}
	return &Job{
		ID: "order.1", Account: "shop", Kind: BrandMessage, Priority: Urgent, Sender: "@shop", Template: "T1",
		ReserveAt: &at, Ad: true, Deadline: &deadline, Failover: fo, Metadata: json.RawMessage(`{"order":1}`),
		Brand: fullBrand(btn),
		Recipients: []Recipient{{
			Ref: "r1", Phone: "010-1234-5678", CountryCode: "82", Content: "hello",
			Variables: map[string]string{"name": "Kim"}, Title: "Title", Header: "Header",
			ItemHighlight: pair, Item: &Item{List: []Pair{*pair}, Summary: pair},
			Buttons: []Button{btn}, QuickReplies: []Button{btn},
			Image: &Image{Seq: &seq, URL: "https://example.com/i.png", Link: "https://example.com"},
			Price: &price, Currency: "KRW", TaxCodes: []string{"a"}, Failover: fo,
		}},
	}
}

// fullBrand sets every field of the brand object, whatever its bubble.
func fullBrand(btn Button) *Brand {
	n, rate := int64(9000), int64(10)
	link := Link{URLMobile: "https://m.example.com", URLPC: "https://example.com", SchemeAndroid: "app://a", SchemeIOS: "app://i"}
	img := BrandImage{URL: "https://img.example.com/1.jpg", Link: "https://example.com"}
	commerce := &Commerce{Title: "Shoes", RegularPrice: 10000, DiscountPrice: &n, DiscountRate: &rate, DiscountFixed: &n}
	coupon := &Coupon{Title: "10% 할인 쿠폰", Description: "Today only", Link: link}
	return &Brand{
		Bubble: BubbleText, Targeting: TargetingM, Adult: true, Content: "hello", Header: "Header",
		AdditionalContent: "more", Image: &img, Video: &Video{URL: "https://tv.kakao.com/v/1", ThumbnailURL: "https://img.example.com/t.jpg"},
		Items:    []WideItem{{Title: "One", ImageURL: "https://img.example.com/2.jpg", Link: link}, {ImageURL: "b"}, {ImageURL: "c"}},
		Commerce: commerce,
		Carousel: &Carousel{
			Head:  &CarouselHead{Header: "Head", Content: "intro", ImageURL: "https://img.example.com/h.jpg", Link: link},
			Cards: []Card{{Header: "Card", Message: "text", AdditionalContent: "more", Image: img, Commerce: commerce, Buttons: []Button{btn}, Coupon: coupon}},
			Tail:  &link,
		},
		Buttons: []Button{btn}, Coupon: coupon,
	}
}

func fullResult() Result {
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	return Result{
		Version: Version, JobID: "order.1", RecipientIndex: 0, Ref: "r1", Phone: "010****5678",
		Account: "shop", Provider: "sandbox", Kind: "alimtalk", Status: Failed, Retryable: true,
		Attempt: 3, Reason: ReasonTimeout, Code: "E1", CodeName: "timeout", Message: "m", Detail: "out of attempts",
		ProviderRequestID: "req", ProviderMessageID: "msg", ReservedBy: "provider", Metadata: json.RawMessage(`{"order":1}`),
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Time: at, SentAt: &at,
	}
}

// checkCoverage fails for each property path of schema file that data
// does not hold. Paths are /a/b, with * for array items.
func checkCoverage(t *testing.T, file string, data []byte) {
	t.Helper()
	raw, err := schemas.Files.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	schemaPaths(schema, schema, "", want, 0)
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	dataPaths(doc, "", have)
	if len(want) < 10 {
		t.Fatalf("%s: only %d property paths found; the walk is broken", file, len(want))
	}
	for p := range want {
		if !have[p] {
			t.Errorf("%s: property %s is not written by the client's type", file, p)
		}
	}
}

func schemaPaths(root map[string]any, node any, at string, out map[string]bool, depth int) {
	n, ok := node.(map[string]any)
	if !ok || depth > 20 {
		return
	}
	if ref, ok := n["$ref"].(string); ok {
		def := strings.TrimPrefix(ref, "#/$defs/")
		schemaPaths(root, root["$defs"].(map[string]any)[def], at, out, depth+1)
	}
	if props, ok := n["properties"].(map[string]any); ok {
		for name, sub := range props {
			out[at+"/"+name] = true
			schemaPaths(root, sub, at+"/"+name, out, depth+1)
		}
	}
	schemaPaths(root, n["items"], at+"/*", out, depth+1)
}

func dataPaths(v any, at string, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			out[at+"/"+k] = true
			dataPaths(sub, at+"/"+k, out)
		}
	case []any:
		for _, sub := range v {
			dataPaths(sub, at+"/*", out)
		}
	}
}

func strictDecode(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode into %T: %v", v, err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(sameTimes(x), sameTimes(y))
}

// sameTimes writes every RFC 3339 time in v in one form: Go writes
// .120Z as .12Z, the same instant.
func sameTimes(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			v[k] = sameTimes(sub)
		}
	case []any:
		for i, sub := range v {
			v[i] = sameTimes(sub)
		}
	case string:
		if tm, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return tm.UTC().Format(time.RFC3339Nano)
		}
	}
	return v
}

// The client's names are the worker's.
func TestNamesAreTheWorkers(t *testing.T) {
	if JobsStream != streams.JobsStream || ResultsStream != streams.ResultsStream {
		t.Errorf("streams %s, %s; the worker's are %s, %s", JobsStream, ResultsStream, streams.JobsStream, streams.ResultsStream)
	}
}
