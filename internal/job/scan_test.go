package job

import (
	"encoding/binary"
	"reflect"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
)

// scanSeeds are jobs scanJob reads, and the edges where it must leave the
// job to json v2 or read it exactly as v2 does.
var scanSeeds = []string{
	`{"version":1,"id":"bench-0000001","account":"naver-bench","kind":"alimtalk","template":"ORDER_SHIPPED","metadata":{"source":"bench","bench_pub_ns":1762750800000000000},"recipients":[{"ref":"r1","phone":"010-0000-0001","content":"[Talkrelay Shop] 주문하신 상품이 발송되었습니다.","buttons":[{"type":"DS","name":"배송 조회"}]}]}`,
	` { "version" : 1 , "id" : "a" , "account":"x","kind":"friendtalk","ad":true,"priority":"urgent","sender":"@s","recipients":[ {"phone":"010123","content":"line\nnext \"quoted\" \\ \/ \t"} ] } `,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","template":"T","recipients":[{"phone":"010123","variables":{"name":"홍길동","n":"1"},"country_code":"82","title":"t","header":"h","ref":"r"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","template":"T","metadata":{"a":[1,-2.5e3,true,false,{"b":"c\n"}],"d":{}},"recipients":[{"phone":"010123","content":"hi","buttons":[{"type":"WL","name":"n","url_mobile":"https://m","url_pc":"https://p","scheme_ios":"i://","scheme_android":"a://","chat_extra":"e","chat_event":"v"}]}]}`,
	`{"version":1,"id":"campaign-0000001","account":"nhn-bench","kind":"alimtalk","sender":"0123456789abcdef0123456789abcdef01234567","template":"ORDER_SHIPPED","metadata":{"source":"bench","bench_pub_ns":1764496800000000000},"recipients":[{"ref":"c50000","phone":"01000050000","content":"[Talkrelay] 11월 회원 쿠폰 C00050000 도착"},{"ref":"c50001","phone":"01000050001","content":"[Talkrelay] 11월 회원 쿠폰 C00050001 도착"}]}`,
	`{"version":1,"id":"a\/b","account":"x\\y","kind":"alimt\talk","sender":"\"s\"","template":"T\n","metadata":{"k":"v\"\n"},"recipients":[{"phone":"010123","variables":{"n":"\"홍\"\n길동"},"ref":"\r\n"},{"phone":"010124","content":"a\\b","buttons":[{"type":"WL","name":"\/n\/","url_mobile":"https:\/\/m"}]}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","template":"T","recipients":[{"phone":"010123","content":"a","buttons":[{"type":"WL","name":"1"},{"type":"AL","name":"2"}]},{"phone":"010124","content":"b"},{"phone":"010125","content":"c","buttons":[{"type":"DS","name":"3"}]},{"phone":"010126","content":"d","buttons":[{"type":"BK","name":"4"},{"type":"MD","name":"5"},{"type":"BC","name":"6"}]}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","template":"T","recipients":[{"phone":"010123","variables":{"a":"1","a":"2"}}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","metadata":{"a":1,"a":2},"recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","metadata":{"a/":1,"a\/":2},"recipients":[{"phone":"010123","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","recipients":[{"phone":"010123","content":"hi","buttons":[]}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","recipients":[{"phone":"010123","content":"\u0041"}]}`,
	`{"version":01,"id":"a","account":"x","kind":"alimtalk","recipients":[]}`,
	`{"version":1e0,"id":"a","account":"x","kind":"alimtalk","recipients":[]}`,
	`{"version":-1,"id":"a","account":"x","kind":"alimtalk","recipients":[{"phone":"1"}]}`,
	`{"version":1,"ad":truex,"id":"a","account":"x","kind":"alimtalk","recipients":[]}`,
	`{"version":1,"metadata":{"n":01},"id":"a","account":"x","kind":"alimtalk","recipients":[]}`,
	`{"version":1,"metadata":"x","id":"a","account":"x","kind":"alimtalk","recipients":[]}`,
	"{\"version\":1,\"id\":\"a\xff\",\"account\":\"x\",\"kind\":\"alimtalk\",\"recipients\":[]}",
	"{\"version\":1,\"id\":\"a\",\"account\":\"x\",\"kind\":\"alimtalk\",\"recipients\":[{\"phone\":\"1\",\"content\":\"a\\n\xff\"}]}",
	"{\"version\":1,\"id\":\"a\",\"account\":\"x\",\"kind\":\"alimtalk\",\"recipients\":[{\"phone\":\"1\",\"content\":\"a\tb\"}]}",
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","recipients":[{"phone":"010123","phone":"010124","content":"hi"}]}`,
	`{"version":1,"id":"a","account":"x","kind":"alimtalk","recipients":[{"phone":"010123","content":"hi"}]}x`,
	`{"version":1,"id":"a","id":"a","account":"x","kind":"alimtalk","recipients":[]}`,
}

// FuzzScanAgreesWithJSONv2: whatever scanJob reads, json v2 (decodeFast's
// other way) reads too, to the same job; so decodeFast's proof of a valid
// job holds whichever way it read it.
func FuzzScanAgreesWithJSONv2(f *testing.F) {
	addSeeds(f)
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := scanJob(data)
		if !ok {
			return
		}
		want := &Job{Recipients: make([]Recipient, 0, countPhones(data))}
		if err := jsonv2.Unmarshal(data, want, fastOptions); err != nil {
			t.Fatalf("scanJob read a job json v2 refuses (%v):\n%s", err, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanJob read\n%+v\njson v2\n%+v\nfrom %s", got, want, data)
		}
	})
}

// TestScanReadsOrdinaryJobs: the jobs scanJob is for take its way: the
// bench's, and those with escapes in their content.
func TestScanReadsOrdinaryJobs(t *testing.T) {
	t.Parallel()
	for _, s := range scanSeeds[:7] {
		if _, ok := scanJob([]byte(s)); !ok {
			t.Errorf("scanJob left to json v2:\n%s", s)
		}
	}
}

// TestStops8: stops8 finds a stringStop byte at any place among any
// others, the bytes around it non-ASCII or at the edges of the ranges.
func TestStops8(t *testing.T) {
	t.Parallel()
	for _, fill := range []byte{'a', ' ', '!', '#', '[', ']', 0x7f, 0x80, 0xa2, 0xdc, 0xff} {
		for at := range 8 {
			for c := range 256 {
				var b [8]byte
				for k := range b {
					b[k] = fill
				}
				b[at] = byte(c)
				if got, want := stops8(binary.LittleEndian.Uint64(b[:])), stringStop[c]; got != want {
					t.Fatalf("stops8(% x) = %v", b, got)
				}
			}
		}
	}
}
