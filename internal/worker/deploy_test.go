package worker_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deployDir holds the Grafana dashboard and the Prometheus alert rules.
const deployDir = "../../deploy"

// Every metric the dashboard and the alert rules query is one the worker
// exports: a renamed metric would otherwise leave a panel empty and an
// alert silent.
func TestDashboardAndAlertsQueryOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	queries := dashboardQueries(t)
	alerts := alertRules(t)
	for _, name := range []string{"TalkrelayLagGrowing", "TalkrelayDeadLettersGrowing", "TalkrelayProviderErrorRate",
		"TalkrelayUnknownOutcomes", "TalkrelayReplicaNotReady", "TalkrelayAccountHeld"} {
		if _, ok := alerts[name]; !ok {
			t.Errorf("no alert %s in %s/prometheus", name, deployDir)
		}
	}
	for _, expr := range alerts {
		queries = append(queries, expr)
	}
	queried := map[string]bool{}
	for _, q := range queries {
		names := promqlMetrics(q)
		if len(names) == 0 {
			t.Errorf("query names no metric: %s", q)
		}
		for _, n := range names {
			queried[n] = true
		}
	}

	exported := map[string]bool{}
	for _, s := range operatorMetrics(t) {
		exported[s.name] = true
	}
	var missing []string
	for n := range queried {
		if !exported[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard or the alerts query metrics /metrics does not have: %v", missing)
	}
	t.Logf("%d queries, %d metrics checked", len(queries), len(queried))
}

// dashboardQueries returns the PromQL of every panel and variable of the
// Grafana dashboards.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(deployDir, "grafana", "*.json"))
	if len(files) == 0 {
		t.Fatalf("no dashboard in %s/grafana", deployDir)
	}
	type target struct {
		Expr string `json:"expr"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels     []panel `json:"panels"`
			Templating struct {
				List []struct {
					Definition string `json:"definition"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range d.Panels {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("%s: panel %q queries nothing", f, p.Title)
			}
			for _, tg := range p.Targets {
				out = append(out, tg.Expr)
			}
		}
		for _, v := range d.Templating.List {
			if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// labelValues is Grafana's variable query label_values(metric, label).
var labelValues = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)

// alertRules returns the expression of every alert in the rule files, by
// alert name.
func alertRules(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(deployDir, "prometheus", "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no rule file in %s/prometheus", deployDir)
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Name  string `yaml:"name"`
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Expr        string            `yaml:"expr"`
					For         string            `yaml:"for"`
					Labels      map[string]string `yaml:"labels"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
					t.Errorf("%s: rule %q needs alert, expr, a severity label and a summary", f, r.Alert)
				}
				out[r.Alert] = r.Expr
			}
		}
	}
	return out
}

// promqlMetrics returns the metric names a PromQL expression selects: the
// identifiers that are neither functions, aggregations, keywords nor
// label names, outside label matchers, ranges and strings.
func promqlMetrics(expr string) []string {
	var out []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{':
			i = skipTo(expr, i, '}')
		case c == '[':
			i = skipTo(expr, i, ']')
		case c == '$' || isIdentStart(c):
			j := i + 1
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n' || expr[k] == '\t') {
				k++
			}
			call := k < len(expr) && expr[k] == '('
			switch {
			case c == '$': // a Grafana variable
			case call && slices.Contains(grouping, word):
				j = skipTo(expr, k, ')') // label names
			case call, slices.Contains(keywords, word):
			default:
				if !slices.Contains(out, word) {
					out = append(out, word)
				}
			}
			i = j
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++ // a number or a duration
			}
		default:
			i++
		}
	}
	return out
}

var (
	grouping = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	keywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "Inf", "NaN",
		// aggregations, which may have their grouping before their "("
		"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// skipString returns the index after the string literal at i.
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return i
}

// skipTo returns the index after the close that ends the bracket at i,
// skipping strings and nested brackets of the same kind.
func skipTo(s string, i int, close byte) int {
	open := s[i]
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
			continue
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

// The metric-name extraction the test above relies on.
func TestPromQLMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.99, sum by (le, account) (rate(a_bucket{account=~"$account", x="}"}[$__rate_interval])))`: {"a_bucket"},
		`min by (account, lane) (deriv(b[15m])) > 0 and max without (lane) (c) > 1e3`:                                   {"b", "c"},
		`sum(rate(d{outcome!="ok"}[5m])) / on (account) group_left (provider) sum(rate(e[5m])) offset 1h`:               {"d", "e"},
		`talkrelay_ready == 0 or up`: {"talkrelay_ready", "up"},
	} {
		if got := promqlMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("promqlMetrics(%s) = %v, want %v", expr, got, want)
		}
	}
}
