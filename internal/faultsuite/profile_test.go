package faultsuite

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// profile is one run of the fault suite.
type profile struct {
	name         string
	recipients   int           // at least this many, across all jobs
	kills        int           // SIGKILLs of the worker while work remains
	natsRestarts int           // NATS restarts, in the middle run(s)
	seed         uint64        // jobs, kill moments and chaos
	chaos        float64       // share of send requests that get a fault
	upMin, upMax time.Duration // how long a worker runs before its SIGKILL
	finalWait    time.Duration // how long the last worker gets to finish
	maxPerJob    int           // recipients per job: 1..maxPerJob
	logDir       string        // where worker logs are kept; empty: the test's temp dir
}

// The bounded profile runs in CI (make test) when no FAULT_* variable is
// set; the full one is the default as soon as one is (make fault).
var (
	boundedProfile = profile{name: "bounded", recipients: 1500, kills: 3, natsRestarts: 1, chaos: 0.12,
		upMin: 1500 * time.Millisecond, upMax: 4 * time.Second, finalWait: 90 * time.Second, maxPerJob: 20}
	fullProfile = profile{name: "full", recipients: 10000, kills: 6, natsRestarts: 1, chaos: 0.12,
		upMin: 2 * time.Second, upMax: 8 * time.Second, finalWait: 10 * time.Minute, maxPerJob: 40}
)

// profileEnv documents the settings, read from the environment.
var profileEnv = []struct{ name, help string }{
	{"FAULT_PROFILE", "bounded or full: the defaults for the rest (default: bounded if no FAULT_* is set, else full)"},
	{"FAULT_RECIPIENTS", "recipients to send, at least (bounded 1500, full 10000)"},
	{"FAULT_KILLS", "SIGKILLs of the worker while work remains (bounded 3, full 6)"},
	{"FAULT_NATS_RESTARTS", "NATS server restarts mid-run (1)"},
	{"FAULT_SEED", "seed of jobs, kill moments and chaos (default: the clock; printed)"},
	{"FAULT_CHAOS", "share of provider send requests that get a fault, 0..1 (0.12)"},
	{"FAULT_UP_MIN", "least time a worker runs before it is killed (bounded 1.5s, full 2s)"},
	{"FAULT_UP_MAX", "most time a worker runs before it is killed (bounded 4s, full 8s)"},
	{"FAULT_FINAL_WAIT", "time the last worker gets to give every recipient a final result (bounded 90s, full 10m)"},
	{"FAULT_LOG_DIR", "directory to keep the worker logs in (worker-N.log; default: the test's temp dir, removed)"},
}

func loadProfile(t *testing.T) profile {
	t.Helper()
	set := false
	for _, e := range profileEnv {
		if _, ok := os.LookupEnv(e.name); ok {
			set = true
		}
	}
	p := boundedProfile
	switch name := os.Getenv("FAULT_PROFILE"); {
	case name == "full" || (name == "" && set):
		p = fullProfile
	case name == "" || name == "bounded":
	default:
		t.Fatalf("FAULT_PROFILE=%q: want bounded or full", name)
	}
	p.seed = uint64(time.Now().UnixNano())
	bad := func(name, v string, err error) { t.Fatalf("%s=%q: %v", name, v, err) }
	ints := map[string]*int{"FAULT_RECIPIENTS": &p.recipients, "FAULT_KILLS": &p.kills, "FAULT_NATS_RESTARTS": &p.natsRestarts}
	for name, dst := range ints {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err == nil && n < 0 {
				err = fmt.Errorf("negative")
			}
			if err != nil {
				bad(name, v, err)
			}
			*dst = n
		}
	}
	if v := os.Getenv("FAULT_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			bad("FAULT_SEED", v, err)
		}
		p.seed = n
	}
	if v := os.Getenv("FAULT_CHAOS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err == nil && (f < 0 || f > 1) {
			err = fmt.Errorf("out of range 0..1")
		}
		if err != nil {
			bad("FAULT_CHAOS", v, err)
		}
		p.chaos = f
	}
	durs := map[string]*time.Duration{"FAULT_UP_MIN": &p.upMin, "FAULT_UP_MAX": &p.upMax, "FAULT_FINAL_WAIT": &p.finalWait}
	for name, dst := range durs {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				bad(name, v, err)
			}
			*dst = d
		}
	}
	p.logDir = os.Getenv("FAULT_LOG_DIR")
	if p.recipients < 3 || p.upMax < p.upMin || p.upMin <= 0 {
		t.Fatalf("profile %+v: need at least 3 recipients and 0 < FAULT_UP_MIN <= FAULT_UP_MAX", p)
	}
	return p
}

func (p profile) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "profile %s: FAULT_RECIPIENTS=%d FAULT_KILLS=%d FAULT_NATS_RESTARTS=%d FAULT_SEED=%d FAULT_CHAOS=%g FAULT_UP_MIN=%s FAULT_UP_MAX=%s FAULT_FINAL_WAIT=%s",
		p.name, p.recipients, p.kills, p.natsRestarts, p.seed, p.chaos, p.upMin, p.upMax, p.finalWait)
	return b.String()
}
