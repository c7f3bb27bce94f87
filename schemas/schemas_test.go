package schemas

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestExamplesValidate(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(Files, "examples/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := Files.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			validate := ValidateJob
			switch {
			case strings.HasPrefix(name, "examples/result-"):
				validate = ValidateResult
			case strings.HasPrefix(name, "examples/cancel-request"):
				validate = ValidateCancelRequest
			case strings.HasPrefix(name, "examples/cancel-reply"):
				validate = ValidateCancelReply
			case strings.HasPrefix(name, "examples/report-"):
				validate = ValidateReport
			}
			if err := validate(data); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		})
	}
}

func TestJobViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want string
	}{
		{"not json", `{`, "not JSON"},
		{"missing recipients", `{"version":1,"id":"a","account":"x","kind":"friendtalk"}`, "recipients"},
		{"alimtalk without template", `{"version":1,"id":"a","account":"x","kind":"alimtalk","recipients":[{"phone":"01012345678","content":"hi"}]}`, "template"},
		{"bad account token", `{"version":1,"id":"a","account":"a.b","kind":"friendtalk","recipients":[{"phone":"01012345678","content":"hi"}]}`, "/account"},
		{"recipient without text", `{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"01012345678"}]}`, "/recipients/0"},
		{"unknown field", `{"version":1,"id":"a","account":"x","kind":"friendtalk","colour":"red","recipients":[{"phone":"01012345678","content":"hi"}]}`, "colour"},
		{"bad reserve time", `{"version":1,"id":"a","account":"x","kind":"friendtalk","reserve_at":"tomorrow","recipients":[{"phone":"01012345678","content":"hi"}]}`, "/reserve_at"},
		{"unknown priority", `{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"high","recipients":[{"phone":"01012345678","content":"hi"}]}`, "/priority"},
		{"priority in the wrong case", `{"version":1,"id":"a","account":"x","kind":"friendtalk","priority":"Urgent","recipients":[{"phone":"01012345678","content":"hi"}]}`, "/priority"},
		{"unknown button", `{"version":1,"id":"a","account":"x","kind":"friendtalk","recipients":[{"phone":"01012345678","content":"hi","buttons":[{"type":"XX","name":"n"}]}]}`, "/recipients/0/buttons/0/type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateJob([]byte(tt.doc))
			if err == nil {
				t.Fatal("want a violation, got none")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// Results are published to talkrelay.results.<account>.<status>.<job>
// (streams.ResultSubject): every place of the contract that spells the
// subject out names its last token.
func TestDocsNameTheWholeResultSubject(t *testing.T) {
	t.Parallel()
	const subject = "talkrelay.results.<account>.<status>"
	docs := map[string][]byte{}
	for _, name := range []string{JobFile, ResultFile} {
		data, err := Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = data
	}
	for _, name := range []string{"../README.md", "../docs/contract.md"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = data
	}
	for name, data := range docs {
		text := string(data)
		for i := strings.Index(text, subject); i >= 0; i = next(text, subject, i) {
			if !strings.HasPrefix(text[i+len(subject):], ".<job>") {
				t.Errorf("%s names the result subject without its <job> token: %q", name, text[i:min(len(text), i+len(subject)+10)])
			}
		}
	}
	if !strings.Contains(string(docs[ResultFile]), subject+".<job>") {
		t.Errorf("%s does not say where results are published", ResultFile)
	}
}

// next is the index of the next sub in s after the one at i, or -1.
func next(s, sub string, i int) int {
	j := strings.Index(s[i+1:], sub)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// The repository stands alone: its docs and code cite the providers'
// public documents by title, never source notes kept outside it.
func TestDocsCiteOnlyPublicDocuments(t *testing.T) {
	t.Parallel()
	outside := regexp.MustCompile(`(?i)\bthe\s+seeds?\b|\bseeds?\s+0\d\d\b|\bseed:\s*[^\s\d]`)
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && path != "..") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if outside.MatchString(line) {
				t.Errorf("%s:%d cites a source outside the repository: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
