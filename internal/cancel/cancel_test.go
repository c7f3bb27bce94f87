package cancel

import "testing"

// FuzzDecodeRequest: a cancel request is untrusted input. Decoding never
// panics, and what it accepts names a job id of 1-128 bytes, version 1.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"version":1,"job_id":"order-1234"}`))
	f.Add([]byte(`{"version":1,"job_id":""}`))
	f.Add([]byte(`{"version":2,"job_id":"a"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			return
		}
		if r.JobID == "" || len(r.JobID) > 128 || r.Version != 1 {
			t.Fatalf("accepted %q as %+v", data, r)
		}
	})
}
