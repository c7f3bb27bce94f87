package naver

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDocConfigExample decodes the account example of
// docs/providers/naver.md the way the worker does (unknown fields fail)
// and builds a client from it.
func TestDocConfigExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../../docs/providers/naver.md")
	if err != nil {
		t.Skipf("doc not found: %v", err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("doc has no yaml block")
	}
	var file struct {
		Accounts []struct {
			Name        string                       `yaml:"name"`
			Provider    string                       `yaml:"provider"`
			BaseURL     string                       `yaml:"base_url"`
			Sender      string                       `yaml:"sender"`
			Credentials map[string]map[string]string `yaml:"credentials"`
			Options     yaml.Node                    `yaml:"options"`
		} `yaml:"accounts"`
	}
	dec := yaml.NewDecoder(strings.NewReader(block))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("example does not decode: %v", err)
	}
	a := file.Accounts[0]
	if a.Provider != Name || a.Credentials["access_key"]["env"] == "" || a.Credentials["secret_key"]["env"] == "" {
		t.Fatalf("example account = %+v", a)
	}
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(&a.Options); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	od := yaml.NewDecoder(&buf)
	od.KnownFields(true)
	if err := od.Decode(&cfg); err != nil {
		t.Fatalf("options do not decode into Config: %v", err)
	}
	if _, err := NewClient(cfg, a.BaseURL, "ak", "sk", nil); err != nil {
		t.Fatalf("example config: %v", err)
	}
}
