package store_test

import (
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/store"
)

// BenchmarkOneRecipientResult builds the one result message of a
// one-recipient job (the single profile's case): the origin's shared
// parts are formatted for each, in a Results of its own (a delivery's).
func BenchmarkOneRecipientResult(b *testing.B) {
	ev := &result.Event{Version: result.Version, JobID: "01JBENCHJOB0000000000000000", Phone: "010****5678",
		Account: "acct", Provider: "naver", Kind: "alimtalk", Status: result.Accepted, Attempt: 1,
		ProviderRequestID: "req-1", Time: time.Unix(1700000000, 0)}
	span := benchSpan()
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		r := new(store.Results)
		r.Init(store.Origin{Seq: seq, JobSeq: seq, Span: span})
		r.Msg(ev).Release()
	}
}
