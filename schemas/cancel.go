package schemas

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The cancel contract's schema documents in Files.
const (
	CancelRequestFile = "cancel-request.v1.schema.json"
	CancelReplyFile   = "cancel-reply.v1.schema.json"
)

var (
	cancelOnce    sync.Once
	cancelSchemas map[string]*jsonschema.Schema
	cancelErr     error
)

func compileCancel() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	cancelSchemas = map[string]*jsonschema.Schema{}
	for _, name := range []string{CancelRequestFile, CancelReplyFile} {
		data, err := Files.ReadFile(name)
		if err != nil {
			cancelErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			cancelErr = fmt.Errorf("schemas: %s: %w", name, err)
			return
		}
		if err := c.AddResource(name, doc); err != nil {
			cancelErr = fmt.Errorf("schemas: %s: %w", name, err)
			return
		}
		if cancelSchemas[name], cancelErr = c.Compile(name); cancelErr != nil {
			return
		}
	}
}

// ValidateCancelRequest checks a cancel request against
// cancel-request.v1.schema.json.
func ValidateCancelRequest(doc []byte) error { return validateCancel(doc, CancelRequestFile) }

// ValidateCancelReply checks a cancel reply against
// cancel-reply.v1.schema.json.
func ValidateCancelReply(doc []byte) error { return validateCancel(doc, CancelReplyFile) }

func validateCancel(doc []byte, name string) error {
	cancelOnce.Do(compileCancel)
	if cancelErr != nil {
		return cancelErr
	}
	return validate(doc, func() *jsonschema.Schema { return cancelSchemas[name] })
}
