package nhn

import "github.com/talkrelay/talkrelay/internal/jsonscan"

// The JSON names of the answer's fields, in the order of the indexes the
// scan functions switch on.
var (
	sendResponseNames   = []string{"header", "message"}
	responseHeaderNames = []string{"resultCode", "resultMessage", "isSuccessful"}
	responseBodyNames   = []string{"requestId", "sendResults"}
	sendResultNames     = []string{"recipientSeq", "recipientNo", "resultCode", "resultMessage", "recipientGroupingKey"}
)

// arenaPerResult is room for a sendResults entry's recipientNo and
// recipientGroupingKey (its resultMessage repeats, and is kept once).
const arenaPerResult = 40

// resultRefs are one sendResult's strings while its answer is read, at
// their fields' indexes in sendResultNames (the others unused).
type resultRefs [5]jsonscan.Ref

// answerScan reads one answer: the strings go to arena and are cut from
// it once the whole answer is read.
type answerScan struct {
	s          *jsonscan.Scanner
	arena      jsonscan.Arena
	headerMsg  jsonscan.Ref
	requestID  jsonscan.Ref
	resultRefs []resultRefs
}

// scanResponse reads the answer to a send of n recipients without
// reflection, its strings in one allocation; false means it did not
// recognise the body, which the caller then decodes with encoding/json.
func scanResponse(body []byte, n int) (*sendResponse, bool) {
	a := answerScan{s: jsonscan.New(body), arena: jsonscan.MakeArena(n * arenaPerResult)}
	var r sendResponse
	ok := a.s.Struct(sendResponseNames, func(f int) bool {
		if f == 0 {
			r.Header = new(responseHeader)
			return a.header(r.Header)
		}
		r.Message = new(responseBody)
		return a.body(r.Message, n)
	})
	if !ok || !a.s.End() {
		return nil, false
	}
	strs := a.arena.String()
	if r.Header != nil {
		r.Header.ResultMessage = a.headerMsg.In(strs)
	}
	if r.Message != nil {
		r.Message.RequestID = a.requestID.In(strs)
		for i, refs := range a.resultRefs {
			e := &r.Message.SendResults[i]
			e.RecipientNo, e.ResultMessage, e.RecipientGroupingKey = refs[1].In(strs), refs[3].In(strs), refs[4].In(strs)
		}
	}
	return &r, true
}

func (a *answerScan) header(h *responseHeader) bool {
	return a.s.Struct(responseHeaderNames, func(f int) (ok bool) {
		switch f {
		case 0:
			h.ResultCode, ok = a.s.Int()
		case 1:
			a.headerMsg, ok = a.s.ReadString(&a.arena, jsonscan.Ref{})
		default:
			h.IsSuccessful, ok = a.s.Bool()
		}
		return ok
	})
}

func (a *answerScan) body(m *responseBody, n int) bool {
	return a.s.Struct(responseBodyNames, func(f int) (ok bool) {
		if f == 0 {
			a.requestID, ok = a.s.ReadString(&a.arena, jsonscan.Ref{})
			return ok
		}
		m.SendResults = make([]sendResult, 0, n)
		a.resultRefs = make([]resultRefs, 0, n)
		return jsonscan.Entries(a.s, &m.SendResults, &a.resultRefs, a.result)
	})
}

// result reads one sendResults entry (null is a zero entry, as for
// encoding/json); prev are the previous entry's strings, which the arena
// reuses when they repeat (the result message).
func (a *answerScan) result(e *sendResult, refs *resultRefs, prev resultRefs) bool {
	if a.s.Null() {
		return true
	}
	return a.s.Struct(sendResultNames, func(f int) (ok bool) {
		switch f {
		case 0:
			e.RecipientSeq, ok = a.s.Int()
		case 2:
			e.ResultCode, ok = a.s.Int()
		default:
			refs[f], ok = a.s.ReadString(&a.arena, prev[f])
		}
		return ok
	})
}
