package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/logging"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// RunProfiledWorker runs the worker as cmd/worker does with --config
// configPath (config.Load, logging.New, worker.Run until SIGINT/SIGTERM),
// writing a CPU profile of the whole run to cpuProfile and, at exit, the
// allocation profile (every allocation since start, sampled) to
// allocProfile. The worker has no pprof endpoint and its main must not be
// changed for the bench, so cmd/bench runs this in a subprocess of its own
// binary in place of the built worker: the profiles are the worker's
// alone, not mixed with the bench's NATS server and fake provider.
func RunProfiledWorker(configPath, cpuProfile, allocProfile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if allocProfile != "" {
		// Beside the allocations, keep the live heap at its largest: what
		// peak RSS is made of.
		stopPeak := watchPeakHeap(strings.Replace(allocProfile, "allocs-", "heap-peak-", 1))
		defer stopPeak()
	}
	runErr := worker.Run(ctx, cfg, log, worker.Options{})
	if allocProfile != "" {
		f, err := os.Create(allocProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return runErr
}

// watchPeakHeap writes the in-use heap profile to path each time the heap
// in use after a collection grows past its largest so far, checking every
// 100 ms, until the returned func is called.
func watchPeakHeap(path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak uint64
		var lastGC uint32
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.NumGC == lastGC || ms.HeapAlloc <= peak {
				continue
			}
			lastGC, peak = ms.NumGC, ms.HeapAlloc
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				_ = f.Close()
			}
		}
	}()
	return func() { close(done); <-finished }
}
