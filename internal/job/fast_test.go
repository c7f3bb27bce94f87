package job

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/talkrelay/talkrelay/schemas"
)

// fastSeeds are jobs at the edges of the schema's rules.
var fastSeeds = []string{
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","variables":{}}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","Content":"x"}]}`,
	`{"version":1,"ID":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","id":"b","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1.0,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","sender":"","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","reserve_at":"2026-11-21T10:00:00+09:00","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","reserve_at":"2026-11-21t10:00:00z","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","deadline":"2026-13-21T10:00:00Z","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","deadline":"2026-11-21T10:00:00Z","metadata":{"deadline":"2026-11-21T10:00:00Z"},"recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","metadata":[],"recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","price":-1}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","image":{"seq":-1}}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","item":{"list":[]}}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","item":{"list":[{"title":"t","description":"d"}],"summary":{"title":"t"}}}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","buttons":[{"type":"WL","name":"n"},{"type":"XX","name":"n"}]}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","failover":{"type":"MMS"}}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","tax_codes":["a","b","c"]}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi","currency":"krw"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi"}]} trailing`,
	`{"version":1,"id":"-a","account":"x","kind":"friendtalk","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"urgent","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"normal","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"high","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"Urgent","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","Priority":"urgent","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":1,"recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":["urgent"],"recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"urgent ","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"urg\u0065nt","recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"normal","priority":"urgent","recipients":[{"phone":"010123","content":"hi"}]}`,
}

func addSeeds(f *testing.F) {
	names, _ := fs.Glob(schemas.Files, "examples/job-*.json")
	for _, name := range names {
		data, _ := schemas.Files.ReadFile(name)
		f.Add(data)
	}
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
}

// FuzzFastPathAgreesWithSchema: whatever the fast path accepts, the
// schema accepts, and both decode it to the same job.
func FuzzFastPathAgreesWithSchema(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeFast(data)
		if !ok {
			return
		}
		if err := schemas.ValidateJob(data); err != nil {
			t.Fatalf("fast path accepted a job the schema rejects: %v\n%s", err, data)
		}
		var slow Job
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("fast path accepted a job encoding/json cannot read: %v\n%s", err, data)
		}
		a, _ := json.Marshal(fast)
		b, _ := json.Marshal(&slow)
		if diff := cmp.Diff(string(b), string(a)); diff != "" {
			t.Fatalf("fast and slow decodes differ (-slow +fast):\n%s", diff)
		}
	})
}

// The byte loops must agree with the schema's patterns.
func FuzzPatterns(f *testing.F) {
	for _, s := range []string{"a", "order-1.2@x", "-x", "0101234", "010-1234-5678", "82", "12345", "KRW", "krw", "0212345678", "é", "a\n"} {
		f.Add(s)
	}
	pats := []struct {
		re *regexp.Regexp
		fn func(string) bool
	}{
		{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@=+-]{0,127}$`), validID},
		{regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`), validAccount},
		{regexp.MustCompile(`^[0-9][0-9-]{5,19}$`), validPhone},
		{regexp.MustCompile(`^[0-9]{1,4}$`), validCountry},
		{regexp.MustCompile(`^[0-9-]{1,16}$`), validNumber},
		{regexp.MustCompile(`^[A-Z]{3}$`), validCurrency},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range pats {
			if p.re.MatchString(s) != p.fn(s) {
				t.Fatalf("%q: pattern %s says %v", s, p.re, p.re.MatchString(s))
			}
		}
	})
}

func TestFastPathTakesOrdinaryJobs(t *testing.T) {
	t.Parallel()
	names, _ := fs.Glob(schemas.Files, "examples/job-*.json")
	for _, name := range names {
		data, _ := schemas.Files.ReadFile(name)
		if _, ok := decodeFast(data); !ok {
			t.Errorf("%s goes the slow way", name)
		}
	}
	for _, s := range fastSeeds {
		if _, ok := decodeFast([]byte(s)); ok {
			if err := schemas.ValidateJob([]byte(s)); err != nil {
				t.Errorf("fast path accepted an invalid job: %v\n%s", err, s)
			}
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
	}{{"1 recipient", 1}, {"1000 recipients", 1000}} {
		j := &Job{Version: 1, ID: "bench-1", Account: "acct", Kind: AlimTalk, Sender: "@shop", Template: "ORDER_SHIPPED"}
		for i := range tc.n {
			j.Recipients = append(j.Recipients, Recipient{Ref: "r", Phone: "0101234" + string(rune('0'+i%10)) + "678",
				Content: "[Shop] Your order has shipped."})
		}
		data, _ := json.Marshal(j)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
