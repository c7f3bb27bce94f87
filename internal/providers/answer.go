package providers

import (
	"bytes"
	"io"
	"sync"
)

// answerBuffers hold send answers while they are parsed: an answer to a
// full request is tens (NAVER) to hundreds (NHN) of KB, which io.ReadAll
// would grow into step by step, twice that allocated, for every request.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledAnswer is the largest buffer kept for the next answer.
const maxPooledAnswer = 1 << 20

// ReadAnswer reads at most max bytes of a send answer, as
// io.ReadAll(io.LimitReader(r, max)) would, into a buffer that release
// hands to the next answer: the caller must keep none of data (parsers
// copy what they keep) and call release once done with it.
func ReadAnswer(r io.Reader, max int64) (data []byte, release func(), err error) {
	buf := answerBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(r, max))
	return buf.Bytes(), func() {
		if buf.Cap() <= maxPooledAnswer {
			answerBuffers.Put(buf)
		}
	}, err
}
