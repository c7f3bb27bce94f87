package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The worker's heap allocations are read from its own /metrics
// (go_memstats_mallocs_total, the Go runtime's count of heap objects
// allocated) at the start and end of the measured window: the bench starts
// each built worker with TALKRELAY_HTTP_ADDR on a free loopback port. The
// profiling worker (-pprof) has no listener; its table cell stays empty.

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// mallocsOf reads go_memstats_mallocs_total from the worker's /metrics at
// addr.
func mallocsOf(ctx context.Context, addr string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("go_memstats_mallocs_total: %q", v)
			}
			return uint64(f), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no go_memstats_mallocs_total in http://%s/metrics", addr)
}

// mallocs sums the workers' allocation counts; ok is false when some
// worker has no metrics listener.
func (ws workers) mallocs(ctx context.Context) (sum uint64, ok bool, err error) {
	for _, p := range ws {
		if p.metricsAddr == "" {
			return 0, false, nil
		}
		n, err := mallocsOf(ctx, p.metricsAddr)
		if err != nil {
			return 0, false, err
		}
		sum += n
	}
	return sum, true, nil
}

// waitMetrics waits until every worker's /metrics answers: with prequeued
// jobs the bench waits for one replica to pull, and another may still be
// starting when the window's first allocation count is read.
func (ws workers) waitMetrics(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range ws {
		for p.metricsAddr != "" {
			_, err := mallocsOf(ctx, p.metricsAddr)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("worker /metrics: %w", err)
			}
			if err := ws.pause(ctx, 20*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}
