package bench

import (
	"fmt"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// serverUse measures, from its call to the call of the func it returns,
// what the embedded nats-server handled per recipient (messages and bytes
// in from its clients and out to them) and the CPU of the bench process,
// which holds the server, the publishing bench and the fake provider or
// the ceiling program. Printed for a profile's worker phase and its
// ceiling phase side by side, it tells whether a gap to the ceiling is the
// worker's own CPU or work it makes the server do.
func serverUse(ns *server.Server) func(recipients int) string {
	v0, _ := ns.Varz(nil)
	cpu0 := selfCPU()
	return func(recipients int) string {
		v1, _ := ns.Varz(nil)
		n := float64(recipients)
		if v0 == nil || v1 == nil || n == 0 {
			return "server use not measured"
		}
		return fmt.Sprintf("server %.2f messages in and %.2f out, %.2f KB in and %.2f out, bench process CPU %.1f µs, a recipient",
			float64(v1.InMsgs-v0.InMsgs)/n, float64(v1.OutMsgs-v0.OutMsgs)/n,
			float64(v1.InBytes-v0.InBytes)/n/1024, float64(v1.OutBytes-v0.OutBytes)/n/1024,
			float64((selfCPU()-cpu0).Microseconds())/n)
	}
}

// selfCPU is the bench process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return rusageCPU(&ru)
}
