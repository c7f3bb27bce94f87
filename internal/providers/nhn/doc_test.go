package nhn

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// TestDocExample keeps the account example of docs/providers/nhn.md working.
func TestDocExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../../docs/providers/nhn.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in docs/providers/nhn.md")
	}
	var cfg struct {
		Accounts []struct {
			Name        string               `yaml:"name"`
			Provider    string               `yaml:"provider"`
			Credentials map[string]yaml.Node `yaml:"credentials"`
			Options     yaml.Node            `yaml:"options"`
		} `yaml:"accounts"`
	}
	if err := yaml.Unmarshal([]byte(block), &cfg); err != nil {
		t.Fatalf("doc yaml: %v", err)
	}
	a := cfg.Accounts[0]
	if a.Provider != Name {
		t.Errorf("provider %q", a.Provider)
	}
	if _, ok := a.Credentials[SecretKeyCredential]; !ok {
		t.Errorf("example has no credentials.%s", SecretKeyCredential)
	}
	spec := providers.Spec{Account: a.Name, Credentials: map[string]string{SecretKeyCredential: "x"},
		DecodeOptions: func(into any) error {
			var buf bytes.Buffer
			if err := yaml.NewEncoder(&buf).Encode(&a.Options); err != nil {
				return err
			}
			d := yaml.NewDecoder(&buf)
			d.KnownFields(true)
			return d.Decode(into)
		}}
	if _, err := New(spec); err != nil {
		t.Fatalf("New from the doc example: %v", err)
	}
}
