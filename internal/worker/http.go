package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// serveHTTP serves the probes on addr: /healthz (liveness: the process
// answers; it never depends on NATS, or an outage would restart every pod)
// and /readyz (connected to NATS and consuming, naming the accounts held by
// their preflight), and /metrics. It returns
// a func that stops the server.
func (w *Worker) serveHTTP(addr string) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		// Accounts held by their preflight are listed; the replica stays
		// ready while it serves at least one account.
		held := w.preflight.report()
		if !w.isReady() || (len(held) > 0 && len(held) == len(w.accounts)) {
			http.Error(rw, strings.Join(append([]string{"not ready"}, held...), "\n"), http.StatusServiceUnavailable)
			return
		}
		_, _ = rw.Write([]byte(strings.Join(append([]string{"ready"}, held...), "\n") + "\n"))
	})
	mux.Handle("GET /metrics", w.metrics.handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.addr: %w", err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.log.Error().Err(err).Msg("http server")
		}
	}()
	w.log.Info().Str("addr", ln.Addr().String()).Msg("serving /healthz, /readyz, /metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// isReady is what /readyz answers: connected to NATS and consuming.
func (w *Worker) isReady() bool { return w.ready.Load() && w.nc.IsConnected() }
