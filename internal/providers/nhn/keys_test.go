package nhn

import (
	"strconv"
	"strings"
	"testing"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// A batch's keys, written together with each job's part worked out once,
// are each recipient's RecipientGroupingKey, the length limit included:
// a job id that fits with a short index is hashed with a long one.
func TestBatchRecipientKeysAreEachRecipients(t *testing.T) {
	edge := strings.Repeat("e", groupingKeyMax-3) // "/9" fits, "/10" does not
	jobs := []*job.Job{{ID: "job-1"}, {ID: edge}, {ID: "a+b"}, {ID: ""}}
	b := &providers.Batch{}
	for _, index := range []int{0, 9, 10, 123} {
		for _, j := range jobs {
			b.Messages = append(b.Messages, providers.Message{Job: j, Index: index}, providers.Message{Job: j, Index: index + 1})
		}
	}
	sent := make([]sentRecipient, len(b.Messages))
	setRecipientKeys(b, sent)
	for i, m := range b.Messages {
		idx := "/" + strconv.Itoa(m.Index)
		want := m.Job.ID + idx
		if len(want) > groupingKeyMax || !plain(m.Job.ID) {
			want = "h-" + digest(m.Job.ID, 48) + idx
		}
		if sent[i].groupingKey != want || RecipientGroupingKey(m.Job.ID, m.Index) != want {
			t.Errorf("job %.10q index %d: batch key %q, RecipientGroupingKey %q, want %q",
				m.Job.ID, m.Index, sent[i].groupingKey, RecipientGroupingKey(m.Job.ID, m.Index), want)
		}
	}
}
