package naver

import "github.com/talkrelay/talkrelay/internal/jsonscan"

// The JSON names of sendResponse's and messageResult's fields, in the
// order of the indexes scanSendResponse switches on.
var (
	sendResponseNames  = []string{"requestId", "messages"}
	messageResultNames = []string{"messageId", "requestStatusCode", "requestStatusName", "requestStatusDesc", "useSmsFailover"}
)

// arenaPerMessage is room for a message id (20 bytes in NAVER's answers)
// and a few bytes to spare.
const arenaPerMessage = 32

// messageRefs are one messageResult's strings while its answer is read.
type messageRefs struct{ id, code, name, desc jsonscan.Ref }

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
		seen  uint64
	)
	ok := s.Object(func(name []byte) bool {
		f, ok := jsonscan.Member(name, sendResponseNames, &seen)
		switch {
		case !ok:
			return false
		case f == 0:
			reqID, ok = s.ReadString(&arena, jsonscan.Ref{})
			return ok
		case f == 1:
			if s.Null() {
				return true
			}
			r.Messages = make([]messageResult, 0, n)
			refs = make([]messageRefs, 0, n)
			return s.Array(func() bool {
				r.Messages = append(r.Messages, messageResult{})
				var prev messageRefs
				if len(refs) > 0 {
					prev = refs[len(refs)-1]
				}
				refs = append(refs, messageRefs{})
				return scanMessageResult(s, &arena, &r.Messages[len(r.Messages)-1], &refs[len(refs)-1], prev)
			})
		}
		return s.Skip()
	})
	if !ok || !s.End() {
		return nil, false
	}
	strs := arena.String()
	r.RequestID = reqID.In(strs)
	for i, m := range refs {
		r.Messages[i].MessageID = m.id.In(strs)
		r.Messages[i].RequestStatusCode = m.code.In(strs)
		r.Messages[i].RequestStatusName = m.name.In(strs)
		r.Messages[i].RequestStatusDesc = m.desc.In(strs)
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
	var seen uint64
	return s.Object(func(name []byte) bool {
		f, ok := jsonscan.Member(name, messageResultNames, &seen)
		switch {
		case !ok:
			return false
		case f == 0:
			refs.id, ok = s.ReadString(arena, prev.id)
			return ok
		case f == 1:
			refs.code, ok = s.ReadString(arena, prev.code)
			return ok
		case f == 2:
			refs.name, ok = s.ReadString(arena, prev.name)
			return ok
		case f == 3:
			refs.desc, ok = s.ReadString(arena, prev.desc)
			return ok
		case f == 4:
			if s.Null() {
				return true
			}
			v, ok := s.Bool()
			m.UseSmsFailover = v
			return ok
		}
		return s.Skip()
	})
}
