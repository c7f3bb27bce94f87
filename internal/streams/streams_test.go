package streams

import (
	"regexp"
	"strings"
	"testing"
)

// The token functions are byte loops for speed; they must agree with the
// patterns of the job schema.
func FuzzTokensAgreeWithPatterns(f *testing.F) {
	account := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	jobID := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@=+-]{0,127}$`)
	for _, s := range []string{"shop", "a.b", "", "_", strings.Repeat("a", 65), "order-1.2@x", "-x", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Token(s) == s && s != NoAccount, account.MatchString(s) && s != NoAccount; got != want {
			t.Fatalf("Token(%q) = %q; pattern match %v", s, Token(s), account.MatchString(s))
		}
		want := NoAccount
		if jobID.MatchString(s) {
			want = strings.ReplaceAll(s, ".", "%")
		}
		if got := JobToken(s); got != want {
			t.Fatalf("JobToken(%q) = %q, want %q", s, got, want)
		}
	})
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		JobSubject("shop", "alimtalk"):                 "talkrelay.jobs.shop.alimtalk",
		ResultSubject("shop", "accepted", "order.1.2"): "talkrelay.results.shop.accepted.order%1%2",
		ResultSubject("a.b", "rejected", "bad id"):     "talkrelay.results._.rejected._",
		JobResultsFilter("shop", "o-1"):                "talkrelay.results.shop.*.o-1",
		DLQSubject(""):                                 "talkrelay.dlq._",
		RetrySubject("shop"):                           "talkrelay.retry.shop",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestHashToken(t *testing.T) {
	t.Parallel()
	// The first 12 bytes of SHA-256("order%1.a0"), in hex: schedule subjects
	// and send-record keys already stored use it, so it must not change.
	if got := HashToken("order%1.a0"); got != "bec6d5d4e773a0a3efbfcd76" {
		t.Errorf("HashToken = %q", got)
	}
}

// ParseJobSubject reads back what JobSubjectFor writes, and nothing else.
func TestParseJobSubject(t *testing.T) {
	for _, c := range []struct{ account, kind string }{{"shop", "alimtalk"}, {"bad name", "friendtalk"}} {
		for _, urgent := range []bool{false, true} {
			a, k, u, ok := ParseJobSubject(JobSubjectFor(c.account, c.kind, urgent))
			if !ok || a != Token(c.account) || k != c.kind || u != urgent {
				t.Errorf("ParseJobSubject(JobSubjectFor(%q, %q, %v)) = %q, %q, %v, %v", c.account, c.kind, urgent, a, k, u, ok)
			}
		}
	}
	for _, s := range []string{"talkrelay.jobs.shop", "talkrelay.jobs.shop.alimtalk.later", "talkrelay.retry.shop", "talkrelay.jobs..alimtalk",
		"talkrelay.jobs.shop.alimtalk.urgent.x", "talkrelay.jobs.shop."} {
		if a, k, u, ok := ParseJobSubject(s); ok || a != "" || k != "" || u {
			t.Errorf("ParseJobSubject(%q) = %q, %q, %v, %v; want nothing", s, a, k, u, ok)
		}
	}
}
