package nhn

import (
	"testing"

	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

func TestCancelerConformanceAlimTalk(t *testing.T) {
	t.Parallel()
	providertest.RunCanceler(t, suite(alimTalkJob))
}

func TestCancelerConformanceFriendTalk(t *testing.T) {
	t.Parallel()
	providertest.RunCanceler(t, suite(friendTalkJob))
}

// FuzzParseCancelAnswer: a cancel's answer is untrusted; reading it never
// panics.
func FuzzParseCancelAnswer(f *testing.F) {
	f.Add([]byte(`{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true}}`))
	f.Add([]byte(`{"header":null}`))
	f.Add([]byte(`{"header":{"resultCode":"x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) { parseCancelAnswer(body) })
}
