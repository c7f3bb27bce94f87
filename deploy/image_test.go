package deploy

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct{ cmd, args string }

// stages reads ../Dockerfile into its stages, each from its FROM.
func stages(t *testing.T) [][]instruction {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]instruction
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(text, "\\"); ok {
			line += cont + " "
			continue
		}
		line += text
		cmd, args, _ := strings.Cut(line, " ")
		line = ""
		in := instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")}
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) == 0 {
			t.Fatalf("%s before FROM", in.cmd)
		}
		out[len(out)-1] = append(out[len(out)-1], in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func find(stage []instruction, cmd string) []string {
	var args []string
	for _, in := range stage {
		if in.cmd == cmd {
			args = append(args, in.args)
		}
	}
	return args
}

// buildRun is the build stage's `go build` command line.
func buildRun(t *testing.T) string {
	t.Helper()
	for _, run := range find(stages(t)[0], "RUN") {
		if strings.Contains(run, "go build") {
			return run
		}
	}
	t.Fatal("no RUN go build in the first stage")
	return ""
}

// versionVar is the variable the Makefile stamps the version into.
func versionVar(t *testing.T) string {
	t.Helper()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-X (\S+)=\$\(VERSION\)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no -X ...=$(VERSION) in the Makefile")
	}
	return string(m[1])
}

// TestDockerfile: a Go build stage on the go.mod's Go, a static build of
// all four binaries stamped like `make build`, a distroless non-root image
// without a shell whose entrypoint reads the config where the chart mounts it.
func TestDockerfile(t *testing.T) {
	st := stages(t)
	if len(st) != 2 {
		t.Fatalf("%d stages, want build and run", len(st))
	}
	build, run := st[0], st[len(st)-1]

	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if from := build[0].args; goVersion == nil || from != "golang:"+string(goVersion[1])+" AS build" {
		t.Errorf("build stage FROM %q, want golang:<go.mod's go version> AS build", from)
	}

	cmd := buildRun(t)
	for _, want := range []string{"CGO_ENABLED=0 ", "./cmd/worker", "./cmd/enqueue", "./cmd/dlq", "./cmd/admin", "-X " + versionVar(t) + "=${VERSION}", "-o /out/"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("build RUN %q: no %q", cmd, want)
		}
	}

	if from := run[0].args; !strings.HasPrefix(from, "gcr.io/distroless/static") && from != "scratch" {
		t.Errorf("run stage FROM %q: want a static distroless base or scratch (no shell)", from)
	}
	for _, in := range run {
		if in.cmd == "RUN" || in.cmd == "SHELL" {
			t.Errorf("run stage has %s: the image has no shell", in.cmd)
		}
	}
	users := find(run, "USER")
	if len(users) == 0 {
		t.Fatal("no USER in the run stage")
	}
	uid, _, _ := strings.Cut(users[len(users)-1], ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (runAsNonRoot can check it)", users[len(users)-1])
	}
	if copies := find(run, "COPY"); !slices.Contains(copies, "--from=build /out/worker /out/enqueue /out/dlq /out/admin /usr/local/bin/") {
		t.Errorf("run stage COPY %q: want the four binaries in /usr/local/bin/", copies)
	}
	var entrypoint, args []string
	for what, p := range map[string]*[]string{"ENTRYPOINT": &entrypoint, "CMD": &args} {
		v := find(run, what)
		if len(v) != 1 || json.Unmarshal([]byte(v[0]), p) != nil {
			t.Fatalf("%s %q: want one, in exec form", what, v)
		}
	}
	if !slices.Equal(entrypoint, []string{"/usr/local/bin/worker"}) {
		t.Errorf("ENTRYPOINT %q", entrypoint)
	}

	// The chart runs the image's entrypoint with the same arguments, and
	// mounts config.yaml where they point.
	r := mustRender(t, "")
	c := r.deployment.Spec.Template.Spec.Containers[0]
	if len(c.Command) != 0 || !slices.Equal(c.Args, args) {
		t.Errorf("chart command %q args %q, want the image's entrypoint with CMD %q", c.Command, c.Args, args)
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	ignored := strings.Fields(string(ignore))
	if !slices.Contains(ignored, ".git") {
		t.Error(".dockerignore: .git is sent to the builder")
	}
	for _, need := range []string{"go.mod", "go.sum", "cmd", "internal", "schemas"} {
		if slices.Contains(ignored, need) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", need)
		}
	}
}

// shellWords splits a RUN line as sh does for the forms the Dockerfile
// uses: words, "double-quoted" words, ${VAR}.
func shellWords(line string, vars map[string]string) []string {
	var words []string
	var word strings.Builder
	quoted, inWord := false, false
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == '"':
			quoted, inWord = !quoted, true
		case ch == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case ch == '$' && strings.HasPrefix(line[i:], "${"):
			end := strings.IndexByte(line[i:], '}')
			word.WriteString(vars[line[i+2:i+end]])
			i += end
			inWord = true
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// TestImageBinaries runs the Dockerfile's build command: the binaries are
// static (no dynamic loader, no shared libraries), carry the stamped
// version, and the worker accepts the chart's config with nothing but that
// file, the secret files and the pod's environment.
func TestImageBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	out := t.TempDir()
	const version = "v0.0.0-imagetest"
	words := shellWords(buildRun(t), map[string]string{"VERSION": version})
	var env []string
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env = append(env, words[0])
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("build RUN is not `[VAR=value...] go build ...`: %q", words)
	}
	for i, w := range words {
		if w == "/out/" {
			words[i] = out + "/"
		}
	}
	build := exec.Command("go", words[1:]...)
	build.Dir = ".."
	build.Env = append(os.Environ(), env...)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}

	for _, name := range []string{"worker", "enqueue", "dlq", "admin"} {
		bin := filepath.Join(out, name)
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s needs a dynamic loader", name)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s needs shared libraries %v", name, libs)
		}
		f.Close()
		cmd := exec.Command(bin, "--version")
		cmd.Env = []string{}
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), name+" "+version) {
			t.Errorf("%s --version: %q, %v; want %q", name, b, err, name+" "+version)
		}
	}

	for _, set := range []string{"defaults", "production"} {
		t.Run(set, func(t *testing.T) {
			r := mustRender(t, valueSets[set])
			cmd := exec.Command(filepath.Join(out, "worker"), "--config="+r.configPath, "--check-config")
			cmd.Env = r.env
			cmd.Dir = t.TempDir()
			b, err := cmd.CombinedOutput()
			if err != nil || !strings.HasPrefix(string(b), "config ok: ") {
				t.Errorf("worker --check-config on the chart's config: %v\n%s", err, b)
			}
		})
	}
}
