package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// places maps what a configuration error names to where in the file it is:
// YAML paths (worker.linger, accounts.shop.options.latency) to their line,
// and lines to the deepest path on them.
type places struct {
	file   string
	line   map[string]int
	atLine map[int]string
}

func newPlaces(file string) *places {
	return &places{file: file, line: map[string]int{}, atLine: map[int]string{}}
}

var (
	nodeType      = reflect.TypeOf(yaml.Node{})
	durationType  = reflect.TypeOf(time.Duration(0))
	unmarshalType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// check walks n beside the Go type t it will be decoded into, records the
// line of every path, and returns the first key t has no field for.
func (p *places) check(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		p.line[path] = n.Line
		p.atLine[n.Line] = path
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType || reflect.PointerTo(t).Implements(unmarshalType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the wrong kind
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := join(path, k.Value)
			p.line[sub] = k.Line
			p.atLine[k.Line] = sub
			ft, ok := fields[k.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				sort.Strings(names)
				where := "here"
				if path != "" {
					where = "in " + path
				}
				return p.errorf(k.Line, sub, "unknown field; %s the fields are %s", where, strings.Join(names, ", "))
			}
			if err := p.check(v, ft, sub); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			if err := p.check(item, t.Elem(), path+itemName(item, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := join(path, k.Value)
			p.line[sub] = k.Line
			p.atLine[k.Line] = sub
			if err := p.check(v, t.Elem(), sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// itemName names a list item by its name field (accounts.shop), as the
// validation messages do, or else by its index (accounts[2]).
func itemName(item *yaml.Node, i int) string {
	if item.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == "name" && item.Content[j+1].Kind == yaml.ScalarNode && item.Content[j+1].Value != "" {
				return "." + item.Content[j+1].Value
			}
		}
	}
	return "[" + strconv.Itoa(i) + "]"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields returns the YAML keys of struct t and their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// decode decodes n into v and rewrites the decoder's errors to name the
// path and say what was expected, in place of Go types.
func (p *places) decode(n *yaml.Node, v any) error {
	err := n.Decode(v)
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = p.rewrite(m)
	}
	return &Error{msg: strings.Join(msgs, "; ")}
}

var (
	lineRE      = regexp.MustCompile(`^line (\d+): (.*)$`)
	unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (.+)$")
)

// rewrite turns "line 3: cannot unmarshal !!str `soon` into time.Duration"
// into "FILE:3: worker.linger: "soon" is not a duration (such as 20ms, 30s, 5m)".
func (p *places) rewrite(msg string) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	what := m[2]
	if u := unmarshalRE.FindStringSubmatch(what); u != nil {
		value := u[2]
		if value == "" {
			value = "a " + map[string]string{"map": "mapping", "seq": "list"}[u[1]]
		} else {
			value = strconv.Quote(value)
		}
		what = value + " is not " + expected(u[3])
	}
	return p.at(line, p.atLine[line], what)
}

// expected says in words what a Go type takes.
func expected(goType string) string {
	switch {
	case goType == durationType.String():
		return "a duration (such as 20ms, 30s, 5m)"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping"
	}
	return "a mapping of the section's fields"
}

// errorf formats an error at a line and path.
func (p *places) errorf(line int, path, format string, args ...any) error {
	return &Error{msg: p.at(line, path, fmt.Sprintf(format, args...))}
}

// at prefixes msg with FILE:LINE: and the path.
func (p *places) at(line int, path, msg string) string {
	var b strings.Builder
	if p.file != "" {
		b.WriteString(p.file + ":")
	}
	if line > 0 {
		b.WriteString(strconv.Itoa(line) + ":")
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if path != "" {
		b.WriteString(path + ": ")
	}
	return b.String() + msg
}

// locate prefixes an error that starts with a YAML path of the file
// ("accounts.shop.provider: ...") with FILE:LINE of the deepest such path.
func (p *places) locate(err error) error {
	if err == nil {
		return nil
	}
	if p == nil || p.file == "" {
		return &Error{msg: err.Error()}
	}
	msg := err.Error()
	best := ""
	for path := range p.line {
		if len(path) > len(best) && strings.HasPrefix(msg, path) && len(msg) > len(path) && strings.ContainsRune(".:[", rune(msg[len(path)])) {
			best = path
		}
	}
	if best == "" {
		return &Error{msg: p.file + ": " + msg}
	}
	return &Error{msg: fmt.Sprintf("%s:%d: %s", p.file, p.line[best], msg)}
}
