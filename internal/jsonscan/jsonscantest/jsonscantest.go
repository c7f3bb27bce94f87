// Package jsonscantest holds scanners built on jsonscan to what they
// stand in for: encoding/json.
package jsonscantest

import (
	"encoding/json"
	"reflect"
	"testing"
)

// AgreesWithEncodingJSON fails t unless encoding/json decodes body into a
// zero T without an error and to what a scanner read from it, got.
func AgreesWithEncodingJSON[T any](t testing.TB, body []byte, got *T) {
	t.Helper()
	var want T
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("scanner read %+v from %q; encoding/json: %v", *got, body, err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("scanner read %+v from %q, encoding/json %+v", *got, body, want)
	}
}
