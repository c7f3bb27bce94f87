// Package cancel reads the cancel requests services send to
// talkrelay.cancel.<account> (client.CancelRequest,
// schemas/cancel-request.v1.schema.json); a worker serving that account
// answers with a client.CancelReply.
package cancel

import (
	"encoding/json"
	"fmt"

	"github.com/talkrelay/talkrelay/client"
)

// DecodeRequest reads a cancel request and checks it.
func DecodeRequest(data []byte) (*client.CancelRequest, error) {
	var r client.CancelRequest
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("cancel request: %w", err)
	}
	if r.Version != 1 {
		return nil, fmt.Errorf("cancel request: version %d, want 1", r.Version)
	}
	if r.JobID == "" || len(r.JobID) > 128 {
		return nil, fmt.Errorf("cancel request: job_id must be 1-128 characters")
	}
	return &r, nil
}
