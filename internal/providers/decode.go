package providers

import (
	"encoding/json"
	"reflect"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// asEncodingJSON are the json v2 options under which it reads names as
// encoding/json does: case-insensitively, underscores and dashes included
// (v2 alone would match "request_id" with requestId).
var asEncodingJSON = jsonv2.JoinOptions(jsonv2.MatchCaseInsensitiveNames(true), jsonv1.MatchCaseSensitiveDelimiter(true))

// UnmarshalAnswer decodes a provider's answer into v, a pointer to a zero
// value, exactly as encoding/json.Unmarshal would. It decodes with json v2
// first, several times faster and with a few allocations instead of some
// per answered message; a body v2 refuses (invalid UTF-8, duplicate names,
// a type mismatch) is decoded again, from zero, by encoding/json, which
// decides. Each adapter's fuzz test checks the agreement on its answer.
func UnmarshalAnswer(body []byte, v any) error {
	if jsonv2.Unmarshal(body, v, asEncodingJSON) == nil {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	return json.Unmarshal(body, v)
}
