package store

import (
	"net/textproto"
	"strings"
	_ "unsafe" // go:linkname

	"github.com/nats-io/nats.go"
)

// publishEncoded is nats.go's own (*Conn).publish, which PublishMsg calls
// with the header map encoded: the result path gives it a result
// message's headers encoded by the message itself (appendHeader), since
// PublishMsg encodes a header map anew on every publish (iterating it
// twice, a bytes.Buffer and two allocations: a tenth of the worker's CPU
// in a campaign). Its signature is that of nats.go v1.55.0: the publisher
// calls it only when the binary is built with that version
// (encodedHeaders); with any other, results go through PublishMsg.
// TestEncodedResultHeaderIsWhatPublishMsgSends checks what it sends.
//
//go:linkname publishEncoded github.com/nats-io/nats%2ego.(*Conn).publish
func publishEncoded(nc *nats.Conn, subj, reply string, validateReply bool, hdr, data []byte) error

// appendHeader appends the message's headers as nats.go's PublishMsg
// encodes them (in resultHeaders' order instead of the map's); false,
// with nothing appended, when a value is one that PublishMsg would change
// (line breaks, leading or trailing white space): such a message is
// published with PublishMsg.
func (rm *ResultMsg) appendHeader(b []byte) ([]byte, bool) {
	start := len(b)
	b = append(b, "NATS/1.0\r\n"...)
	for i, v := range rm.values {
		if rm.set&(1<<i) == 0 {
			continue
		}
		if strings.IndexByte(v, '\n') >= 0 || strings.IndexByte(v, '\r') >= 0 || textproto.TrimString(v) != v {
			return b[:start], false
		}
		b = append(b, resultHeaders[i]...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...), true
}

// linkedNATS is the nats.go version publishEncoded's signature was
// checked against.
const linkedNATS = "1.55.0"

// encodedHeaders tells whether this binary's nats.go (nats.Version) is
// linkedNATS, so that publishEncoded may be called. A fork or local copy
// that keeps the version but changes (*Conn).publish is not caught: the
// tests of this package are.
const encodedHeaders = nats.Version == linkedNATS
