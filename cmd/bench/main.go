// Command bench runs talkrelay's throughput benchmarks and prints the
// table; see internal/bench. `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/talkrelay/talkrelay/internal/bench"
)

// workerMode is the hidden first argument that makes this binary the
// profiled worker (see bench.RunProfiledWorker).
const workerMode = "profiled-worker"

func main() {
	if len(os.Args) > 1 && os.Args[1] == workerMode {
		if err := profiledWorker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench worker:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := bench.ConfigFromEnv()
	if err != nil {
		return err
	}
	profiles := flag.String("profiles", strings.Join(cfg.Profiles, ","), "profiles to run, comma separated: "+strings.Join(bench.AllProfiles, ",")+" (default all; env BENCH_PROFILES)")
	flag.Float64Var(&cfg.Scale, "scale", cfg.Scale, "multiply every profile's size (env BENCH_SCALE)")
	if cfg.Runs == 0 {
		cfg.Runs = 3
	}
	flag.IntVar(&cfg.Runs, "runs", cfg.Runs, "run single, single3 and campaign this many times and report the run of median ratio to its ceiling; singlerep and campaignrep run once (env BENCH_RUNS)")
	flag.StringVar(&cfg.WorkDir, "workdir", os.Getenv("BENCH_WORKDIR"), "keep generated configs and worker logs here (default a new temp dir; env BENCH_WORKDIR)")
	pprofDir := flag.String("pprof", os.Getenv("BENCH_PPROF"), "write the worker's CPU and alloc profiles into this directory (env BENCH_PPROF)")
	flag.Parse()
	if *profiles != "" {
		cfg.Profiles = strings.Split(*profiles, ",")
	}
	cfg.Out, cfg.Progress = os.Stdout, os.Stderr
	if *pprofDir != "" {
		dir, err := filepath.Abs(*pprofDir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cfg.WorkerArgv = func(configPath, profile string) []string {
			return []string{self, workerMode, "-config", configPath,
				"-cpuprofile", filepath.Join(dir, "cpu-"+profile+".pprof"),
				"-allocprofile", filepath.Join(dir, "allocs-"+profile+".pprof")}
		}
		fmt.Fprintf(os.Stderr, "bench: profiling the worker into %s\n", dir)
	}
	_, err = bench.Run(ctx, cfg)
	return err
}

func profiledWorker(args []string) error {
	fs := flag.NewFlagSet(workerMode, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "worker config")
	cpu := fs.String("cpuprofile", "", "CPU profile file")
	alloc := fs.String("allocprofile", "", "alloc profile file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return bench.RunProfiledWorker(*cfgPath, *cpu, *alloc)
}
