package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

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
