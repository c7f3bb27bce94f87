package providers_test

import (
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
)

// A Brand Message's text is its job's, so two brandmessage jobs never
// share a batch key, while two alike AlimTalk jobs do.
func TestKeyOfSeparatesBrandMessageJobs(t *testing.T) {
	t.Parallel()
	a, b := providertest.BrandJob(job.BubbleText, 1), providertest.BrandJob(job.BubbleText, 1)
	b.ID = "other"
	if providers.KeyOf(a, &a.Recipients[0], "") == providers.KeyOf(b, &b.Recipients[0], "") {
		t.Error("two brandmessage jobs share a batch key")
	}
	at := func(id string) *job.Job {
		return &job.Job{ID: id, Account: "a", Kind: job.AlimTalk, Template: "T", Recipients: []job.Recipient{{Phone: "01012345678", Content: "x"}}}
	}
	x, y := at("x"), at("y")
	if providers.KeyOf(x, &x.Recipients[0], "") != providers.KeyOf(y, &y.Recipients[0], "") {
		t.Error("two alike AlimTalk jobs do not share a batch key")
	}
}
