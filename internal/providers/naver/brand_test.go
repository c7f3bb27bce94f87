package naver

import (
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// NAVER's adapter speaks SENS AlimTalk only: a Brand Message is refused
// before any request, with the reason.
func TestCheckRefusesBrandMessage(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, "http://naver.test", nil)
	j := providertest.BrandJob(job.BubbleText, 1)
	err := c.Check(&providers.Message{Job: j, Recipient: &j.Recipients[0], Attempt: 1})
	if err == nil || !strings.Contains(err.Error(), "kind: brandmessage is not supported") {
		t.Fatalf("Check = %v, want kind: brandmessage is not supported", err)
	}
}
