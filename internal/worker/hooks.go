package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/report"
)

// Pushed delivery reports: a provider's webhook (NHN's result updates)
// posts to /hooks/<account> on webhook.addr. A hook is answered 200 only
// once the reports it carries are stored in JetStream, so any failure
// (NATS down, a store timeout, too many hooks at once) is a 5xx the
// provider retries; a repeated hook is stored once (report.Publish). Any
// replica may receive any hook: nothing is held in the replica.
//
//	talkrelay_report_hooks_total{account,outcome}   hooks received, by answer
//	talkrelay_report_hook_entries_total{account,outcome} their entries:
//	    reported, pending (left to polling) or foreign (not talkrelay's: dropped)

// The outcome labels of talkrelay_report_hooks_total, by answer.
const (
	hookStored       = "stored"          // 200: its reports stored (or it had none)
	hookUnsigned     = "bad_signature"   // 401: signature missing or wrong
	hookTooLarge     = "too_large"       // 413: body over webhook.max_body_bytes
	hookMalformed    = "malformed"       // 400: not a hook of the provider
	hookNotStored    = "store_failed"    // 503: JetStream did not store its reports
	hookBusy         = "busy"            // 503: maxHooksInFlight already in handling
	hookOtherAccount = "unknown_account" // 404: no webhook of that account (account label _other)
)

// maxHooksInFlight bounds the hooks one replica handles at once; more are
// answered 503 at once, and the provider retries them.
const maxHooksInFlight = 16

// hookStoreTimeout bounds storing one hook's reports.
const hookStoreTimeout = 10 * time.Second

// hookAccount is an account whose reports are pushed.
type hookAccount struct {
	reporter  providers.HookReporter
	signature string
	push      *report.Push
}

// hookMetrics count hooks and their entries.
type hookMetrics struct {
	hooks, entries metric.Int64Counter
}

// serveHooks serves the webhooks of the accounts with a webhook signature
// on cfg.Webhook.Addr; it returns a func that stops the server.
func (w *Worker) serveHooks() (func(), error) {
	addr := w.cfg.Webhook.Addr
	if addr == "" {
		return func() {}, nil
	}
	accounts := map[string]*hookAccount{}
	for i := range w.cfg.Accounts {
		a := &w.cfg.Accounts[i]
		secret, ok := a.Credentials[providers.WebhookSignatureCredential]
		if !ok {
			continue
		}
		acct := w.accounts[a.Name]
		hr := acct.Client.(providers.HookReporter) // checkHookReporter made sure
		sig, err := secret.Resolve()
		if err != nil {
			return nil, w.cfg.Locate(fmt.Errorf("accounts.%s.credentials.%s: %w", a.Name, providers.WebhookSignatureCredential, err))
		}
		accounts[a.Name] = &hookAccount{reporter: hr, signature: sig, push: &report.Push{Account: a.Name, Provider: acct.Provider,
			JS: w.js, Records: w.records, Now: w.clock.Now}}
	}
	hm, err := newHookMetrics(w.metrics.provider.Meter("github.com/talkrelay/talkrelay/worker"), accounts)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	inFlight := make(chan struct{}, maxHooksInFlight)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+config.HookPathPrefix+"{account}", func(rw http.ResponseWriter, r *http.Request) {
		name := r.PathValue("account")
		a := accounts[name]
		if a == nil {
			hm.hook(otherAccount, hookOtherAccount)
			http.Error(rw, "no such webhook", http.StatusNotFound)
			return
		}
		select {
		case inFlight <- struct{}{}:
			defer func() { <-inFlight }()
		default:
			hm.hook(name, hookBusy)
			http.Error(rw, "busy, retry", http.StatusServiceUnavailable)
			return
		}
		status, outcome := w.handleHook(r, name, a, hm)
		hm.hook(name, outcome)
		if status != http.StatusOK {
			http.Error(rw, http.StatusText(status), status)
			return
		}
		_, _ = rw.Write([]byte("ok\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("webhook.addr: %w", err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.log.Error().Err(err).Msg("webhook server")
		}
	}()
	w.log.Info().Str("addr", ln.Addr().String()).Int("accounts", len(accounts)).Msg("serving pushed reports on " + config.HookPathPrefix + "<account>")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// checkHookReporter refuses a webhook signature on an account whose
// provider pushes no reports talkrelay receives.
func checkHookReporter(a *config.Account, client providers.Provider) error {
	if _, signed := a.Credentials[providers.WebhookSignatureCredential]; !signed {
		return nil
	}
	if _, ok := client.(providers.HookReporter); !ok {
		return fmt.Errorf("accounts.%s.credentials.%s: talkrelay does not receive pushed reports of provider %s", a.Name, providers.WebhookSignatureCredential, a.Provider)
	}
	return nil
}

// handleHook checks, reads and stores one hook of account name; it
// returns the HTTP status to answer and the outcome to count.
func (w *Worker) handleHook(r *http.Request, name string, a *hookAccount, hm *hookMetrics) (status int, outcome string) {
	if !a.reporter.HookSigned(r.Header, a.signature) {
		return http.StatusUnauthorized, hookUnsigned
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, w.cfg.Webhook.BodyLimit()))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, hookTooLarge
	case err != nil:
		return http.StatusBadRequest, hookMalformed
	}
	hr, err := a.reporter.ReportHook(body)
	if err != nil {
		w.log.Warn().Str("account", name).Int("bytes", len(body)).Msg("webhook body is not a hook of the provider")
		return http.StatusBadRequest, hookMalformed
	}
	if len(hr.Reports) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), hookStoreTimeout)
		defer cancel()
		if err := a.push.Store(ctx, hr.Reports); err != nil {
			w.log.Warn().Err(err).Str("account", name).Int("reports", len(hr.Reports)).Msg("pushed reports not stored; answered 503 for the provider to retry")
			return http.StatusServiceUnavailable, hookNotStored
		}
	}
	hm.entries.Add(context.Background(), int64(len(hr.Reports)), hookAttrs(name, "reported"))
	hm.entries.Add(context.Background(), int64(hr.Pending), hookAttrs(name, "pending"))
	hm.entries.Add(context.Background(), int64(hr.Foreign), hookAttrs(name, "foreign"))
	return http.StatusOK, hookStored
}

func newHookMetrics(meter metric.Meter, accounts map[string]*hookAccount) (*hookMetrics, error) {
	hm := &hookMetrics{}
	var err error
	if hm.hooks, err = meter.Int64Counter("talkrelay.report.hooks", metric.WithDescription("Report webhooks received, by answer.")); err != nil {
		return nil, err
	}
	if hm.entries, err = meter.Int64Counter("talkrelay.report.hook.entries", metric.WithDescription("Entries of report webhooks: reported, pending (left to polling) or foreign (dropped).")); err != nil {
		return nil, err
	}
	for name := range accounts {
		for _, o := range []string{hookStored, hookUnsigned, hookTooLarge, hookMalformed, hookNotStored, hookBusy} {
			hm.hooks.Add(context.Background(), 0, hookAttrs(name, o))
		}
		for _, o := range []string{"reported", "pending", "foreign"} {
			hm.entries.Add(context.Background(), 0, hookAttrs(name, o))
		}
	}
	hm.hooks.Add(context.Background(), 0, hookAttrs(otherAccount, hookOtherAccount))
	return hm, nil
}

func (hm *hookMetrics) hook(account, outcome string) {
	hm.hooks.Add(context.Background(), 1, hookAttrs(account, outcome))
}

func hookAttrs(account, outcome string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("account", account), attribute.String("outcome", outcome))
}
