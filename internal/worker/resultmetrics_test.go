package worker

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Results are counted with atomic adds read at collection: counted from
// several goroutines, each series is exposed as the same counter, with
// every result in it, as an OpenTelemetry counter exposed it.
func TestResultCountsAreExposedAsTheyWereCounted(t *testing.T) {
	t.Parallel()
	m, err := newMetrics(func() int { return 0 }, func() int { return 0 }, func() bool { return true }, natstest.Run(t).Connect(t),
		map[string]string{"acct": "naver"})
	if err != nil {
		t.Fatal(err)
	}
	accepted := &result.Event{Account: "acct", Provider: "naver", Status: result.Accepted, Reason: result.ReasonOK}
	refused := &result.Event{Account: "stranger", Provider: "naver", Status: result.Failed, Reason: result.ReasonAuth}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 1000 {
				m.result(accepted, true)
				if i%10 == 0 {
					m.result(refused, false)
				}
			}
		})
	}
	wg.Wait()
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		"# TYPE talkrelay_results_total counter\n",
		`talkrelay_results_total{account="acct",provider="naver",reason="ok",status="accepted"} 4000` + "\n",
		`talkrelay_results_total{account="_other",provider="naver",reason="auth",status="failed"} 400` + "\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, grepResults(string(body)))
		}
	}
}

func grepResults(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, "talkrelay_results") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
