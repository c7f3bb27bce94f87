// Package schemas holds talkrelay's wire contract: the JSON Schemas (2020-12)
// of the send job, the result event and the delivery report, and compiled validators for them.
package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Files holds the schema documents and their examples.
//
//go:embed *.schema.json examples/*.json
var Files embed.FS

// Names of the schema documents in Files.
const (
	JobFile    = "job.v1.schema.json"
	ResultFile = "result.v1.schema.json"
	ReportFile = "report.v1.schema.json"
)

var (
	compileOnce sync.Once
	jobSchema   *jsonschema.Schema
	resSchema   *jsonschema.Schema
	repSchema   *jsonschema.Schema
	compileErr  error
)

func compile() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, name := range []string{JobFile, ResultFile, ReportFile} {
		data, err := Files.ReadFile(name)
		if err != nil {
			compileErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			compileErr = fmt.Errorf("schemas: %s: %w", name, err)
			return
		}
		if err := c.AddResource(name, doc); err != nil {
			compileErr = fmt.Errorf("schemas: %s: %w", name, err)
			return
		}
	}
	if jobSchema, compileErr = c.Compile(JobFile); compileErr != nil {
		return
	}
	if resSchema, compileErr = c.Compile(ResultFile); compileErr != nil {
		return
	}
	repSchema, compileErr = c.Compile(ReportFile)
}

// ValidateJob checks a send job document against job.v1.schema.json.
// The error, if any, names the offending location and the rule it breaks.
func ValidateJob(doc []byte) error {
	return validate(doc, func() *jsonschema.Schema { return jobSchema })
}

// ValidateResult checks a result event against result.v1.schema.json.
func ValidateResult(doc []byte) error {
	return validate(doc, func() *jsonschema.Schema { return resSchema })
}

// ValidateReport checks a delivery report against report.v1.schema.json.
func ValidateReport(doc []byte) error {
	return validate(doc, func() *jsonschema.Schema { return repSchema })
}

func validate(doc []byte, schema func() *jsonschema.Schema) error {
	compileOnce.Do(compile)
	if compileErr != nil {
		return compileErr
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := schema().Validate(v); err != nil {
		return &Error{err: err.(*jsonschema.ValidationError)}
	}
	return nil
}

// Error is a schema violation. Its message is one line per violated rule,
// each with the JSON pointer of the offending value.
type Error struct{ err *jsonschema.ValidationError }

func (e *Error) Error() string {
	var b bytes.Buffer
	writeLeaves(&b, *e.err.DetailedOutput())
	if b.Len() == 0 {
		return e.err.Error()
	}
	return b.String()
}

func writeLeaves(b *bytes.Buffer, u jsonschema.OutputUnit) {
	if len(u.Errors) == 0 {
		if u.Error == nil {
			return
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		loc := u.InstanceLocation
		if loc == "" {
			loc = "/"
		}
		fmt.Fprintf(b, "%s: %s", loc, u.Error.String())
		return
	}
	for _, c := range u.Errors {
		writeLeaves(b, c)
	}
}
