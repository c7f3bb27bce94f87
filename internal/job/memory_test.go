package job

import (
	"runtime"
	"strings"
	"testing"
)

// TestDecodedJobHeldBytes: a decoded job of the bench's shapes holds no
// more of the heap than it did before scanJob was made faster (2.80 and
// 3.34 times its bytes; worker.lane_bytes counts on about six for a job
// with the worker's own state for it).
func TestDecodedJobHeldBytes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		recipients  int
		jobs        int
		heldPerByte float64
	}{
		{"single", 1, 2000, 2.8},
		{"campaign", 10_000, 2, 3.4},
	} {
		bodies := make([][]byte, tc.jobs)
		size := 0
		for k := range bodies {
			bodies[k] = benchProfileJob(k, tc.recipients)
			size += len(bodies[k])
		}
		jobs := make([]*Job, tc.jobs)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for k, b := range bodies {
			j, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			jobs[k] = j
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(jobs)
		runtime.KeepAlive(bodies) // not counted as freed
		if ratio := held / float64(size); ratio > tc.heldPerByte {
			t.Errorf("%s: decoded jobs hold %.2f times their bytes, more than %.2f", tc.name, ratio, tc.heldPerByte)
		} else {
			t.Logf("%s: decoded jobs hold %.2f times their bytes (%.0f of %d)", tc.name, ratio, held, size)
		}
	}
}

// TestDecodeAllocations: scanJob allocates a few times per job, however
// many recipients and buttons: one allocation for a job of one recipient
// with its button, and for the recipients' buttons of a larger job.
func TestDecodeAllocations(t *testing.T) {
	withButtons := []byte(`{"version":1,"id":"a","account":"x","kind":"alimtalk","template":"T","recipients":[` +
		strings.Repeat(`{"phone":"010123","content":"a","buttons":[{"type":"WL","name":"1"},{"type":"DS","name":"2"}]},`, 99) +
		`{"phone":"010123","content":"a","buttons":[{"type":"WL","name":"1"}]}]}`)
	for _, tc := range []struct {
		name string
		data []byte
		most float64
	}{
		// the job's allocation, the copy of the body, the job's own strings
		{"single", benchProfileJob(1, 1), 3},
		// and the recipients'
		{"campaign", benchProfileJob(1, 1000), 4},
		// and the buttons'
		{"100 recipients with buttons", withButtons, 5},
	} {
		if _, ok := scanJob(tc.data); !ok {
			t.Fatalf("%s: scanJob leaves it to json v2", tc.name)
		}
		if n := testing.AllocsPerRun(20, func() { Decode(tc.data) }); n > tc.most {
			t.Errorf("%s: %.0f allocations a decode, more than %.0f", tc.name, n, tc.most)
		}
	}
}
