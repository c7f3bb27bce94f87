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
