package naver

import "github.com/talkrelay/talkrelay/internal/jsonscan"

// The JSON names of sendResponse's and messageResult's fields, in the
// order of the indexes the scan functions switch on: messageResult's
// four strings first, in the order of messageRefs.
var (
	sendResponseNames  = []string{"requestId", "messages"}
	messageResultNames = []string{"messageId", "requestStatusCode", "requestStatusName", "requestStatusDesc", "useSmsFailover"}
)

// arenaPerMessage is room for a message id (20 bytes in NAVER's answers)
// and a few bytes to spare.
const arenaPerMessage = 32

// messageRefs are one messageResult's strings while its answer is read:
// messageId, requestStatusCode, requestStatusName, requestStatusDesc.
type messageRefs [4]jsonscan.Ref

// scanSendResponse reads the answer to a send of n messages without
// reflection, its strings in one allocation; false means it did not
// recognise the body, which the caller then decodes with encoding/json.
func scanSendResponse(body []byte, n int) (*sendResponse, bool) {
	s := jsonscan.New(body)
	var (
		r     sendResponse
		arena = jsonscan.MakeArena(n * arenaPerMessage)
		reqID jsonscan.Ref
		refs  []messageRefs
	)
	ok := s.Struct(sendResponseNames, func(f int) bool {
		if f == 0 {
			var ok bool
			reqID, ok = s.ReadString(&arena, jsonscan.Ref{})
			return ok
		}
		r.Messages = make([]messageResult, 0, n)
		refs = make([]messageRefs, 0, n)
		return jsonscan.Entries(s, &r.Messages, &refs, func(m *messageResult, refs *messageRefs, prev messageRefs) bool {
			return scanMessageResult(s, &arena, m, refs, prev)
		})
	})
	if !ok || !s.End() {
		return nil, false
	}
	strs := arena.String()
	r.RequestID = reqID.In(strs)
	for i, m := range refs {
		e := &r.Messages[i]
		e.MessageID, e.RequestStatusCode, e.RequestStatusName, e.RequestStatusDesc = m[0].In(strs), m[1].In(strs), m[2].In(strs), m[3].In(strs)
	}
	return &r, true
}

// scanMessageResult reads one entry of messages (null is a zero entry, as
// for encoding/json); prev are the previous entry's strings, which the
// arena reuses when they repeat (the status code, name and description).
func scanMessageResult(s *jsonscan.Scanner, arena *jsonscan.Arena, m *messageResult, refs *messageRefs, prev messageRefs) bool {
	if s.Null() {
		return true
	}
	return s.Struct(messageResultNames, func(f int) bool {
		var ok bool
		if f < len(refs) {
			refs[f], ok = s.ReadString(arena, prev[f])
		} else {
			m.UseSmsFailover, ok = s.Bool()
		}
		return ok
	})
}
