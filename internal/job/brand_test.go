package job

import (
	"strings"
	"testing"
)

// A brandmessage job carries its message in brand, is always an ad, and
// its recipients need neither content nor variables; brand belongs to
// brandmessage jobs only.
func TestDecodeBrandMessage(t *testing.T) {
	t.Parallel()
	const ok = `{"version":1,"id":"b1","account":"a","kind":"brandmessage","ad":true,` +
		`"brand":{"bubble":"TEXT","content":"hi"},"recipients":[{"phone":"01012345678"}]}`
	j, err := Decode([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if j.Kind != BrandMessage || j.Brand == nil || j.Brand.Content != "hi" || j.Brand.EffectiveTargeting() != TargetingI {
		t.Fatalf("decoded %+v", j)
	}
	for name, tc := range map[string]struct{ from, to, want string }{
		"no ad":               {`"ad":true,`, ``, "'ad'"},
		"not an ad":           {`"ad":true`, `"ad":false`, "/ad"},
		"no brand":            {`"brand":{"bubble":"TEXT","content":"hi"},`, ``, "brand"},
		"unknown bubble":      {`"TEXT"`, `"BASIC"`, "/brand/bubble"},
		"bad targeting":       {`"bubble"`, `"targeting":"F","bubble"`, "/brand/targeting"},
		"brand on friendtalk": {`"kind":"brandmessage","ad":true,`, `"kind":"friendtalk",`, "/brand"},
	} {
		_, err := Decode([]byte(strings.Replace(ok, tc.from, tc.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one about %s", name, err, tc.want)
		}
	}
}
