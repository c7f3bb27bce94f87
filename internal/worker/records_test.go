package worker

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSendRecordJSON(t *testing.T) {
	t.Parallel()
	r := &sendRecord{At: time.Date(2026, 11, 21, 5, 0, 0, 123, time.UTC), Sends: [][2]int{{0, 1}, {7, 3}}}
	want, _ := json.Marshal(r)
	if got := r.appendJSON(nil); string(got) != string(want) {
		t.Fatalf("appendJSON %s, want %s", got, want)
	}
}
