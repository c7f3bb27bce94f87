package deploy

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/streams"
)

const (
	chartDir  = "helm/talkrelay"
	namespace = "messaging"
	release   = "relay"
)

// rendered is one release's objects, decoded strictly into their API types.
type rendered struct {
	deployment     *appsv1.Deployment
	configMap      *corev1.ConfigMap
	service        *corev1.Service
	webhookService *corev1.Service // webhook.enabled only
	serviceAccount *corev1.ServiceAccount
	pdb            *policyv1.PodDisruptionBudget
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	scaledObject   *scaledObject
	serviceMonitor *serviceMonitor
	prometheusRule *prometheusRule
	// config is the worker's config.yaml as the worker loads it.
	config *config.Config
	// configPath and env are config.yaml and the environment as the
	// worker in the pod sees them (see materialize).
	configPath string
	env        []string
}

// render renders the chart for values (YAML over values.yaml) as
// `helm template` does, schema included.
func render(t *testing.T, values string) (*rendered, error) {
	t.Helper()
	return renderSchema(t, values, true)
}

// renderSchema renders with or without checking values.schema.json
// (`helm template --skip-schema-validation`).
func renderSchema(t *testing.T, values string, schema bool) (*rendered, error) {
	t.Helper()
	return renderChart(t, loadChart(t), values, schema)
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return chrt
}

func renderChart(t *testing.T, chrt *chart.Chart, values string, schema bool) (*rendered, error) {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, chartutil.ReleaseOptions{
		Name: release, Namespace: namespace, IsInstall: true,
	}, chartutil.DefaultCapabilities, !schema)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(chrt, top)
	if err != nil {
		return nil, err
	}
	return decode(t, files), nil
}

func mustRender(t *testing.T, values string) *rendered {
	t.Helper()
	r, err := render(t, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// decode decodes every rendered object strictly (an unknown or misplaced
// field fails) into its API type, each kind at most once.
func decode(t *testing.T, files map[string]string) *rendered {
	t.Helper()
	r := &rendered{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		for _, doc := range strings.Split(files[name], "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var meta struct {
				APIVersion, Kind string
				Metadata         struct{ Name string }
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var obj any
			switch meta.APIVersion + " " + meta.Kind {
			case "apps/v1 Deployment":
				obj = once(t, &r.deployment)
			case "v1 ConfigMap":
				obj = once(t, &r.configMap)
			case "v1 Service":
				if strings.HasSuffix(meta.Metadata.Name, "-webhook") {
					obj = once(t, &r.webhookService)
				} else {
					obj = once(t, &r.service)
				}
			case "v1 ServiceAccount":
				obj = once(t, &r.serviceAccount)
			case "policy/v1 PodDisruptionBudget":
				obj = once(t, &r.pdb)
			case "autoscaling/v2 HorizontalPodAutoscaler":
				obj = once(t, &r.hpa)
			case "keda.sh/v1alpha1 ScaledObject":
				obj = once(t, &r.scaledObject)
			case "monitoring.coreos.com/v1 ServiceMonitor":
				obj = once(t, &r.serviceMonitor)
			case "monitoring.coreos.com/v1 PrometheusRule":
				obj = once(t, &r.prometheusRule)
			default:
				t.Fatalf("%s: unexpected object %s %s", name, meta.APIVersion, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: %s: %v\n%s", name, meta.Kind, err, doc)
			}
		}
	}
	for what, missing := range map[string]bool{
		"Deployment": r.deployment == nil, "ConfigMap": r.configMap == nil, "Service": r.service == nil,
	} {
		if missing {
			t.Fatalf("no %s rendered", what)
		}
	}
	r.configPath, r.env = materialize(t, r)
	for _, name := range []string{"NATS_URL", "NATS_CREDS", "NATS_NKEY", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	for _, e := range r.env {
		name, value, _ := strings.Cut(e, "=")
		t.Setenv(name, value)
	}
	r.config = loadConfig(t, r.configPath, r.configMap.Data["config.yaml"])
	return r
}

// once allocates *p for decoding, failing if the kind came before.
func once[T any](t *testing.T, p **T) *T {
	t.Helper()
	if *p != nil {
		t.Fatalf("two %T objects rendered", *p)
	}
	*p = new(T)
	return *p
}

// materialize lays out what the pod's worker sees: its config.yaml, in
// which the mounted Secrets' paths exist (placeholder files under a
// temporary root; any other file the config names does not), and its
// environment (secrets as placeholders).
func materialize(t *testing.T, r *rendered) (configPath string, env []string) {
	t.Helper()
	root := t.TempDir()
	data := r.configMap.Data["config.yaml"]
	c := r.deployment.Spec.Template.Spec.Containers[0]
	for _, m := range c.VolumeMounts {
		for _, v := range r.deployment.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				data = strings.ReplaceAll(data, " "+m.MountPath+"/", " "+root+m.MountPath+"/")
			}
		}
	}
	for _, f := range regexp.MustCompile(regexp.QuoteMeta(root)+`/\S+`).FindAllString(data, -1) {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("placeholder"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	configPath = filepath.Join(root, "config.yaml")
	if err := os.WriteFile(configPath, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Env {
		value := e.Value
		if e.ValueFrom != nil {
			value = "placeholder-" + e.Name
		}
		env = append(env, e.Name+"="+value)
	}
	return configPath, env
}

// loadConfig loads the materialized config.yaml as the worker does, in the
// pod's environment (set by the caller), with --check-config's checks;
// data is its text for errors.
func loadConfig(t *testing.T, path, data string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the worker rejects the rendered config: %v\n%s", err, data)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the worker rejects the rendered config: %v\n%s", err, data)
	}
	return cfg
}

// valueSets are the chart's supported shapes; each must render, decode
// strictly and keep every invariant.
var valueSets = map[string]string{
	"defaults": ``,
	"production": `
replicas: 3
config:
  nats:
    url: nats://nats.nats-system:4222,nats://nats-1.nats-system:4222
    creds: /run/secrets/nats/worker.creds
  streams:
    replicas: 3
    jobs_duplicate_window: 2h
  worker:
    consumer: relay
    shutdown_grace: 1m30s
    max_job_bytes: 1048576
  log:
    level: warn
  accounts:
    - name: shop
      provider: nhn
      credentials:
        secret_key: {file: /run/secrets/nhn/secret-key}
        webhook_signature: {file: /run/secrets/nhn/webhook-signature}
      options: {app_key: Ab12Cd34Ef56}
      rate_limit: {requests_per_second: 50}
    - name: naver-main
      provider: naver
      sender: "@shop"
      credentials:
        access_key: {env: NAVER_ACCESS_KEY}
        secret_key: {env: NAVER_SECRET_KEY}
      options: {service_id: "ncp:kkobizmsg:kr:123456789012:talkrelay"}
    - name: play_2
      provider: sandbox
secretFiles:
  - secret: talkrelay-nats
    mountPath: /run/secrets/nats
  - secret: talkrelay-nhn
    mountPath: /run/secrets/nhn
secretEnv:
  - name: NAVER_ACCESS_KEY
    secret: talkrelay-naver
    key: access-key
  - name: NAVER_SECRET_KEY
    secret: talkrelay-naver
    key: secret-key
  - name: NATS_PASSWORD
    secret: talkrelay-nats
    key: password
env:
  OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4318
serviceMonitor:
  enabled: true
  labels: {release: prometheus}
webhook:
  enabled: true
`,
	"keda": `
config:
  worker:
    shutdown_grace: 500ms
    pull_batch: 1000
  accounts:
    - {name: a, provider: sandbox}
    - {name: b-2, provider: sandbox}
    - {name: c_3, provider: sandbox}
keda:
  enabled: true
  lagThreshold: 1200
  maxReplicas: 20
port: 9090
terminationGraceMarginSeconds: 5
`,
	"keda-default-account": `
keda:
  enabled: true
  natsMonitoringEndpoint: nats-monitor.other:8222
  useHttps: true
`,
	"hpa": `
config:
  worker:
    shutdown_grace: 2h
hpa:
  enabled: true
podDisruptionBudget:
  enabled: false
serviceAccount:
  create: false
`,
}

func TestChartLint(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			vals, err := chartutil.ReadValues([]byte(values))
			if err != nil {
				t.Fatal(err)
			}
			linter := lint.All(chartDir, vals, namespace, true)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				}
			}
		})
	}
}

func TestChartRendersValueSets(t *testing.T) {
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, values)
			checkPod(t, r)
			checkSecretsReferenced(t, r)
			checkScaling(t, r)
		})
	}
}

// checkPod: probes on the worker's HTTP port, a grace period longer than
// the worker's own shutdown bound, a locked-down container.
func checkPod(t *testing.T, r *rendered) {
	t.Helper()
	spec := r.deployment.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]

	// The worker exits within 2 x shutdown_grace of SIGTERM; Kubernetes
	// must not SIGKILL it before.
	bound := 2 * r.config.Worker.ShutdownGrace
	if spec.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds")
	}
	grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	if grace < bound+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s, want at least 2 x shutdown_grace (%s) + 5s", grace, bound)
	}
	if grace > bound+time.Minute {
		t.Errorf("terminationGracePeriodSeconds %s: far beyond 2 x shutdown_grace (%s)", grace, bound)
	}

	// Probes and Service on the port the worker listens on.
	_, portText, ok := strings.Cut(r.config.HTTP.Addr, ":")
	if !ok || r.config.HTTP.Addr[0] != ':' {
		t.Fatalf("http.addr %q: want :PORT, on every interface", r.config.HTTP.Addr)
	}
	var port int32
	fmt.Sscan(portText, &port)
	if len(c.Ports) == 0 || c.Ports[0].ContainerPort != port || c.Ports[0].Name != "http" {
		t.Errorf("container ports %+v, want http on %d", c.Ports, port)
	}
	checkWebhook(t, r, c.Ports[1:])
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("no HTTP probe on %s", path)
			continue
		}
		if probe.HTTPGet.Path != path || probe.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("probe %s on port %s, want %s on http", probe.HTTPGet.Path, probe.HTTPGet.Port.String(), path)
		}
	}
	if sp := r.service.Spec.Ports; len(sp) != 1 || sp[0].Port != port || sp[0].TargetPort != intstr.FromString("http") {
		t.Errorf("service ports %+v, want %d to http", sp, port)
	}
	if sm := r.serviceMonitor; sm != nil {
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v, want /metrics on http", sm.Spec.Endpoints)
		}
		if !mapsEqual(sm.Spec.Selector.MatchLabels, r.service.Labels) {
			t.Errorf("ServiceMonitor selects %v, the service has %v", sm.Spec.Selector.MatchLabels, r.service.Labels)
		}
	}
	if !mapsEqual(r.deployment.Spec.Selector.MatchLabels, r.service.Spec.Selector) {
		t.Errorf("service selects %v, pods have %v", r.service.Spec.Selector, r.deployment.Spec.Selector.MatchLabels)
	}

	// The config the worker reads is the rendered ConfigMap.
	if !slices.Equal(c.Args, []string{"--config=/etc/talkrelay/config.yaml"}) {
		t.Errorf("args %v", c.Args)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == r.configMap.Name && m.MountPath == "/etc/talkrelay" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Error("the ConfigMap is not mounted at /etc/talkrelay")
	}

	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context %+v: want a non-root user", psc)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v: want no escalation, a read-only root, no capabilities", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("resources %+v: want requests", c.Resources)
	}
	if pdb := r.pdb; pdb != nil && !mapsEqual(pdb.Spec.Selector.MatchLabels, r.deployment.Spec.Selector.MatchLabels) {
		t.Errorf("PodDisruptionBudget selects %v", pdb.Spec.Selector.MatchLabels)
	}
}

// checkWebhook: with webhook.enabled the worker listens for pushed reports
// on the container port "webhook" (ports besides http), which a Service of
// its own exposes; without it there is neither.
func checkWebhook(t *testing.T, r *rendered, ports []corev1.ContainerPort) {
	t.Helper()
	if r.config.Webhook.Addr == "" {
		if len(ports) != 0 || r.webhookService != nil {
			t.Errorf("webhook off, yet ports %+v and service %v", ports, r.webhookService != nil)
		}
		return
	}
	var port int32
	fmt.Sscanf(r.config.Webhook.Addr, ":%d", &port)
	if len(ports) != 1 || ports[0].Name != "webhook" || ports[0].ContainerPort != port || port == 0 {
		t.Fatalf("webhook.addr %q, container ports %+v: want webhook on that port", r.config.Webhook.Addr, ports)
	}
	s := r.webhookService
	if s == nil {
		t.Fatal("no webhook Service")
	}
	if sp := s.Spec.Ports; len(sp) != 1 || sp[0].Port != port || sp[0].TargetPort != intstr.FromString("webhook") {
		t.Errorf("webhook service ports %+v, want %d to webhook", sp, port)
	}
	if !mapsEqual(r.deployment.Spec.Selector.MatchLabels, s.Spec.Selector) {
		t.Errorf("webhook service selects %v, pods have %v", s.Spec.Selector, r.deployment.Spec.Selector.MatchLabels)
	}
}

// checkSecretsReferenced: no Secret is rendered, no credential or NATS
// secret is inline in the config, and every secret env var comes from a
// Secret.
func checkSecretsReferenced(t *testing.T, r *rendered) {
	t.Helper()
	var rawNATS struct {
		NATS struct{ Password, Token string }
	}
	if err := yaml.Unmarshal([]byte(r.configMap.Data["config.yaml"]), &rawNATS); err != nil {
		t.Fatal(err)
	}
	if rawNATS.NATS.Password != "" || rawNATS.NATS.Token != "" {
		t.Error("a NATS secret is inline in the config")
	}
	for _, a := range r.config.Accounts {
		for name, s := range a.Credentials {
			if s.Value != "" {
				t.Errorf("accounts.%s.credentials.%s is inline", a.Name, name)
			}
		}
	}
	c := r.deployment.Spec.Template.Spec.Containers[0]
	secretVars := map[string]bool{"NATS_PASSWORD": true, "NATS_TOKEN": true, "NATS_USER": true}
	for _, a := range r.config.Accounts {
		for _, s := range a.Credentials {
			if s.Env != "" {
				secretVars[s.Env] = true
			}
		}
	}
	set := map[string]bool{}
	for _, e := range c.Env {
		set[e.Name] = true
		if secretVars[e.Name] && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("env %s is not from a Secret", e.Name)
		}
	}
	for _, a := range r.config.Accounts {
		for name, s := range a.Credentials {
			if s.Env != "" && !set[s.Env] {
				t.Errorf("accounts.%s.credentials.%s: env %s is not set on the container", a.Name, name, s.Env)
			}
		}
	}
}

// checkScaling: replicas come from exactly one place, and the KEDA object
// watches each account lane's consumer on the jobs stream.
func checkScaling(t *testing.T, r *rendered) {
	t.Helper()
	scaled := r.scaledObject != nil || r.hpa != nil
	if scaled == (r.deployment.Spec.Replicas != nil) {
		t.Errorf("deployment replicas %v with an autoscaler: %v", r.deployment.Spec.Replicas, scaled)
	}
	if r.scaledObject != nil && r.hpa != nil {
		t.Error("both a ScaledObject and an HPA")
	}
	if r.hpa != nil && r.hpa.Spec.ScaleTargetRef.Name != r.deployment.Name {
		t.Errorf("HPA scales %q", r.hpa.Spec.ScaleTargetRef.Name)
	}
	so := r.scaledObject
	if so == nil {
		return
	}
	if so.Spec.ScaleTargetRef.Name != r.deployment.Name {
		t.Errorf("ScaledObject scales %q, want %q", so.Spec.ScaleTargetRef.Name, r.deployment.Name)
	}
	var want, got []string
	for _, a := range r.config.Accounts {
		want = append(want, r.config.Worker.Consumer+"-"+a.Name, r.config.Worker.Consumer+"-"+a.Name+"-"+streams.UrgentSuffix)
	}
	for i, tr := range so.Spec.Triggers {
		if tr.Type != "nats-jetstream" {
			t.Errorf("trigger %d: type %q", i, tr.Type)
		}
		for key, required := range natsJetStreamMetadata {
			if _, ok := tr.Metadata[key]; required && !ok {
				t.Errorf("trigger %d: no %s", i, key)
			}
		}
		for key := range tr.Metadata {
			if _, ok := natsJetStreamMetadata[key]; !ok {
				t.Errorf("trigger %d: unknown metadata %s", i, key)
			}
		}
		if lag, err := strconv.Atoi(tr.Metadata["lagThreshold"]); err != nil || lag <= r.config.Worker.PullBatch {
			t.Errorf("trigger %d: lagThreshold %q, want more than worker.pull_batch %d (the lag counts held jobs)", i, tr.Metadata["lagThreshold"], r.config.Worker.PullBatch)
		}
		if tr.Metadata["stream"] != streams.JobsStream {
			t.Errorf("trigger %d: stream %q, want %q", i, tr.Metadata["stream"], streams.JobsStream)
		}
		got = append(got, tr.Metadata["consumer"])
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("triggers on consumers %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) == 0 || len(a) > len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestChartDefaults: the defaults reach the official NATS chart's services
// in the release's namespace.
func TestChartDefaults(t *testing.T) {
	r := mustRender(t, ``)
	if got := r.config.NATS.URL; got != "nats://nats:4222" {
		t.Errorf("nats.url %q, want the NATS chart's service nats://nats:4222", got)
	}
	if r.config.Worker.ShutdownGrace != 30*time.Second || *r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds != 70 {
		t.Errorf("shutdown_grace %s, terminationGracePeriodSeconds %d: want 30s and 70",
			r.config.Worker.ShutdownGrace, *r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds)
	}
	if r.scaledObject != nil || r.hpa != nil || r.serviceMonitor != nil || r.pdb == nil {
		t.Error("defaults: want a PodDisruptionBudget and no ScaledObject, HPA or ServiceMonitor")
	}
	k := mustRender(t, "keda: {enabled: true}")
	want := "nats-headless." + namespace + ".svc.cluster.local:8222"
	for _, tr := range k.scaledObject.Spec.Triggers {
		if tr.Metadata["natsServerMonitoringEndpoint"] != want || tr.Metadata["account"] != "$G" {
			t.Errorf("trigger metadata %v, want endpoint %s and account $G", tr.Metadata, want)
		}
	}
}

// TestChartGracePeriod: every Go duration form of shutdown_grace gives the
// smallest whole number of seconds covering 2 x shutdown_grace, plus the margin.
func TestChartGracePeriod(t *testing.T) {
	for _, d := range []string{"0", "1ns", "500ms", "1.5s", "30s", "45s", "1m", "1m30s", "2h", "1h0m1s", "250us", "2.25m"} {
		t.Run(d, func(t *testing.T) {
			r := mustRender(t, fmt.Sprintf("config: {worker: {shutdown_grace: %q}}\nterminationGraceMarginSeconds: 10", d))
			want := int64(math.Ceil((2 * r.config.Worker.ShutdownGrace).Seconds())) + 10
			if got := *r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; got != want {
				t.Errorf("terminationGracePeriodSeconds %d, want %d", got, want)
			}
		})
	}
}

// TestChartRejects: what must never be rendered fails at install time,
// with a message naming the value; the templates refuse what matters even
// with the schema skipped.
func TestChartRejects(t *testing.T) {
	for name, c := range map[string]struct {
		values, mention string
		template        bool // the templates refuse it too
	}{
		"inline credential": {`
config:
  accounts:
    - name: shop
      provider: nhn
      credentials: {secret_key: {value: s3cret}}
`, "secret_key", true},
		"inline NATS password":    {"config: {nats: {url: 'nats://nats:4222', password: s3cret}}", "password", true},
		"inline NATS token":       {"config: {nats: {url: 'nats://nats:4222', token: s3cret}}", "token", true},
		"embedded NATS":           {"config: {nats: {url: ''}}", "url", true},
		"http set in config":      {"config: {http: {addr: '127.0.0.1:8080'}}", "http", false},
		"bad shutdown_grace":      {"config: {worker: {shutdown_grace: 30}}", "shutdown_grace", false},
		"bad account name":        {"config: {accounts: [{name: 'a.b', provider: sandbox}]}", "name", false},
		"keda and hpa":            {"keda: {enabled: true}\nhpa: {enabled: true}", "hpa", true},
		"lag under pull_batch":    {"keda: {enabled: true, lagThreshold: 4000}", "pull_batch", true},
		"secret env misspelt":     {"secretEnv: [{name: X, secretName: s, key: k}]", "secretName", false},
		"webhook, nothing signed": {"webhook: {enabled: true}", "webhook_signature", true},
		"webhook on the http port": {`
webhook: {enabled: true, port: 8080}
config: {accounts: [{name: shop, provider: nhn, credentials: {webhook_signature: {env: S}}}]}
`, "webhook.port", true},
		"webhook addr in config": {"config: {webhook: {addr: ':8090'}}", "addr", true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, c.values)
			if err == nil {
				t.Fatal("rendered")
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %q does not mention %s", err, c.mention)
			}
			if !c.template {
				return
			}
			_, err = renderSchema(t, c.values, false)
			if err == nil {
				t.Fatal("rendered without the schema")
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("without the schema: error %q does not mention %s", err, c.mention)
			}
		})
	}
}

// TestChartPrometheusRule: the PrometheusRule carries the groups of the
// chart's rules/*.yaml as they are (alert templates included), and every
// rule file under deploy/prometheus is one of them.
func TestChartPrometheusRule(t *testing.T) {
	const rules = `groups:
  - name: example
    rules:
      - alert: TalkrelayExample
        expr: |
          talkrelay_ready == 0
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: "replica {{ $labels.instance }} is not ready"
`
	chrt := loadChart(t)
	var shipped []*chart.File
	for _, f := range chrt.Files {
		if strings.HasPrefix(f.Name, "rules/") {
			shipped = append(shipped, f)
		}
	}
	if len(shipped) == 0 {
		if _, err := renderChart(t, chrt, "prometheusRule: {enabled: true}", true); err == nil || !strings.Contains(err.Error(), "rules/") {
			t.Errorf("enabled without rule files: %v, want an error naming rules/", err)
		}
	}
	chrt.Files = append(chrt.Files, &chart.File{Name: "rules/zz-example.yaml", Data: []byte(rules)})
	if r := mustRenderChart(t, chrt, ""); r.prometheusRule != nil {
		t.Error("a PrometheusRule by default")
	}
	r := mustRenderChart(t, chrt, "prometheusRule: {enabled: true, labels: {release: prometheus}}")
	pr := r.prometheusRule
	if pr == nil {
		t.Fatal("no PrometheusRule")
	}
	if pr.Labels["release"] != "prometheus" {
		t.Errorf("labels %v: no release: prometheus", pr.Labels)
	}
	var want []ruleGroup
	for _, f := range append(shipped, chrt.Files[len(chrt.Files)-1]) {
		var file struct{ Groups []ruleGroup }
		if err := yaml.UnmarshalStrict(f.Data, &file); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		want = append(want, file.Groups...)
	}
	got, _ := yaml.Marshal(pr.Spec.Groups)
	wantText, _ := yaml.Marshal(want)
	if string(got) != string(wantText) {
		t.Errorf("PrometheusRule groups:\n%s\nwant the rule files':\n%s", got, wantText)
	}

	files, _ := filepath.Glob("prometheus/*.yaml")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range shipped {
			found = found || string(f.Data) == string(data)
		}
		if !found {
			t.Errorf("%s is not in the chart: link it as %s/rules/%s", path, chartDir, filepath.Base(path))
		}
	}
}

func mustRenderChart(t *testing.T, chrt *chart.Chart, values string) *rendered {
	t.Helper()
	r, err := renderChart(t, chrt, values, true)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}
