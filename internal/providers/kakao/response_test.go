package kakao

import (
	"errors"
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers"
)

func TestParseResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		class      providers.Class
		code, uid  string
		message    string
		fails      bool
	}{
		{name: "success NRM0000", body: `{"code":"200","uid":"221018080314511j7usTgzgQDOXvIk","cid":"c1","result":{"detail_code":"NRM0000","detail_message":"성공"}}`,
			class: providers.Accepted, code: "200", uid: "221018080314511j7usTgzgQDOXvIk", message: "NRM0000: 성공"},
		{name: "success NRM00000", body: `{"code":"200","uid":"u","cid":"c1","result":{"detail_code":"NRM00000","detail_message":"성공"}}`,
			class: providers.Accepted, code: "200", uid: "u", message: "NRM00000: 성공"},
		{name: "numeric code", body: `{"code":200,"uid":"u"}`, class: providers.Accepted, code: "200", uid: "u"},
		{name: "detail code says failure, code says success", body: `{"code":"200","uid":"u","result":{"detail_code":"ERR999","detail_message":"x"}}`,
			class: providers.Accepted, code: "200", uid: "u", message: "ERR999: x"},
		{name: "detail of another type", body: `{"code":"200","uid":"u","result":{"detail_code":1,"detail_message":null}}`,
			class: providers.Accepted, code: "200", uid: "u", message: "1"},
		{name: "result not an object", body: `{"code":"200","uid":"u","result":"ok"}`, class: providers.Accepted, code: "200", uid: "u"},
		{name: "processing", body: `{"code":"100","uid":"u","cid":"c"}`, class: providers.Unknown, code: "100", uid: "u"},
		{name: "resendable", body: `{"code":"520","uid":"","cid":"c"}`, class: providers.Retryable, code: "520"},
		{name: "internal error", body: `{"code":"500"}`, class: providers.Unknown, code: "500"},
		{name: "failed", body: `{"code":"510"}`, class: providers.Permanent, code: "510"},
		{name: "empty", body: ``, fails: true},
		{name: "blank", body: " \n", fails: true},
		{name: "html", body: `<html></html>`, fails: true},
		{name: "no code", body: `{"uid":"u"}`, fails: true},
		{name: "null code", body: `{"code":null}`, fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := ParseResponse([]byte(tc.body))
			if tc.fails {
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Class != providers.Unknown {
					t.Errorf("ParseResponse = %+v, %v; want an unknown-outcome error", o, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			if o.Class != tc.class || o.Code != tc.code || o.MessageID != tc.uid || o.CodeName == "" {
				t.Errorf("outcome %+v, want class %s code %s uid %q and a code name", o, tc.class, tc.code, tc.uid)
			}
			if tc.message != "" && o.Message != tc.message {
				t.Errorf("message %q, want %q", o.Message, tc.message)
			}
		})
	}
}

func TestCodesTable(t *testing.T) {
	t.Parallel()
	// The API reference's codes, every one classified and named.
	for _, code := range []string{"100", "200", "400", "410", "420", "500", "510", "520"} {
		info, ok := Codes[code]
		if !ok || info.Name == "" || info.Class == 0 {
			t.Errorf("code %s: %+v", code, info)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`{"code":"200","uid":"u","cid":"c","result":{"detail_code":"NRM0000","detail_message":"성공"}}`,
		`{"code":"100","uid":"","cid":""}`,
		`{"code":520}`,
		`{"code":"500","result":null}`,
		`{"code":["200"]}`,
		`{"code":"200","result":{"detail_code":1}}`,
		`<html>`,
		``,
		`null`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseResponse(body)
		if err != nil {
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Class != providers.Unknown {
				t.Fatalf("error %v is not an unknown-outcome *providers.Error", err)
			}
			if o != (providers.Outcome{}) {
				t.Fatalf("outcome %+v with error %v", o, err)
			}
			return
		}
		if o.Code == "" || o.CodeName == "" {
			t.Fatalf("outcome without code or name: %+v", o)
		}
		want := unknownCode
		if info, ok := Codes[o.Code]; ok {
			want = info
		}
		if o.Class != want.Class {
			t.Fatalf("code %q classified %s, table says %s", o.Code, o.Class, want.Class)
		}
	})
}
