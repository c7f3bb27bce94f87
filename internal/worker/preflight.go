package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/talkrelay/talkrelay/internal/config"
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Preflight: at start-up the worker asks each account's provider whether
// the account can send (providers.Preflighter: credentials accepted, the
// account's sender exists and is not blocked or dormant). An account with
// a problem is held: its lanes do not pull (intake.Config.Paused), so its
// jobs wait in the stream, untouched, instead of each failing with the
// same provider error; /readyz names it and why; it is checked again
// every preflightEvery and served as soon as a check passes. The other
// accounts are served meanwhile. A provider that cannot be asked (down,
// an unexpected answer) holds nothing: the account is served and its
// sends meet the provider's answer as usual.
const (
	// defaultPreflightEvery is how often a held account is checked again.
	defaultPreflightEvery = time.Minute
	// preflightTimeout bounds one account's check.
	preflightTimeout = 15 * time.Second
)

// preflightResult is one account's check.
type preflightResult struct {
	account, provider string
	// problem is why the account is held ("" when it is not).
	problem string
	// undetermined is set when the provider could not be asked.
	undetermined error
	quota        string
}

// preflights is which accounts are held and why.
type preflights struct {
	mu   sync.Mutex
	held map[string]string // account -> problem
}

func (p *preflights) paused(account string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, held := p.held[account]
	return held
}

func (p *preflights) set(r preflightResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.problem == "" {
		delete(p.held, r.account)
	} else {
		p.held[r.account] = r.problem
	}
}

// report lists the held accounts, sorted, one "account <name>: <why>" each.
func (p *preflights) report() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.held))
	for a, why := range p.held {
		out = append(out, "account "+a+" not ready: "+why)
	}
	sort.Strings(out)
	return out
}

// preflight checks one account.
func preflight(ctx context.Context, a *dispatch.Account) preflightResult {
	r := preflightResult{account: a.Name, provider: a.Provider}
	pf, ok := a.Client.(providers.Preflighter)
	if !ok {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	got, err := pf.Preflight(ctx, a.Sender)
	var pe *providers.Error
	switch {
	case err == nil:
		r.problem, r.quota = got.Problem, got.Quota
	case errors.As(err, &pe) && pe.Reason == result.ReasonAuth:
		r.problem = "credentials refused: " + pe.Error()
	default:
		r.undetermined = err
	}
	return r
}

// preflightAll checks the accounts at once.
func preflightAll(ctx context.Context, accounts []*dispatch.Account) []preflightResult {
	out := make([]preflightResult, len(accounts))
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Go(func() { out[i] = preflight(ctx, a) })
	}
	wg.Wait()
	return out
}

// startPreflight records the checks of every account made before intake
// starts (preflightAll), holding those with a problem, and returns a func
// that checks the held ones again every interval until ctx ends.
func (w *Worker) startPreflight(ctx context.Context, initial []preflightResult, accounts []*dispatch.Account, every time.Duration) func() {
	for _, r := range initial {
		w.preflightLogged(r)
	}
	byName := map[string]*dispatch.Account{}
	for _, a := range accounts {
		byName[a.Name] = a
	}
	return func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, name := range w.preflight.heldAccounts() {
				w.preflightLogged(preflight(ctx, byName[name]))
			}
		}
	}
}

// observeHeld exports talkrelay_account_held{account}: 1 while preflight
// holds the account, else 0, for every account of names.
func (m *metrics) observeHeld(names []string, p *preflights) error {
	meter := m.provider.Meter("github.com/talkrelay/talkrelay/worker")
	_, err := meter.Int64ObservableGauge("talkrelay.account.held",
		metric.WithDescription("1 while preflight holds the account (its jobs wait in the stream: see /readyz for why), else 0."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			for _, name := range names {
				var held int64
				if p.paused(name) {
					held = 1
				}
				o.Observe(held, metric.WithAttributes(attribute.String("account", name)))
			}
			return nil
		}))
	return err
}

// heldAccounts lists the held accounts' names.
func (p *preflights) heldAccounts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.held))
	for a := range p.held {
		out = append(out, a)
	}
	return out
}

// preflightLogged records r and logs what changed.
func (w *Worker) preflightLogged(r preflightResult) {
	was := w.preflight.paused(r.account)
	if r.undetermined != nil {
		w.log.Warn().Err(r.undetermined).Str("account", r.account).Msg("preflight: the provider could not be asked; serving the account")
		r.problem = "" // hold nothing on a provider that cannot be asked
	}
	w.preflight.set(r)
	switch {
	case r.problem != "":
		if !was {
			w.log.Error().Str("account", r.account).Str("problem", r.problem).
				Msg("preflight: account not ready; its jobs wait in the stream until a check passes")
		}
	case was:
		w.log.Info().Str("account", r.account).Msg("preflight: account ready again; serving its jobs")
	case r.undetermined == nil:
		ev := w.log.Info().Str("account", r.account)
		if r.quota != "" {
			ev = ev.Str("quota", r.quota)
		}
		ev.Msg("preflight: account ready")
	}
}

// CheckAccountsOnline builds every account (CheckAccounts) and asks each
// provider whether it can send (worker --check-config --online), one line
// per account on out. It fails when an account has a problem or its
// provider could not be asked.
func CheckAccountsOnline(ctx context.Context, cfg *config.Config, hc *http.Client, out io.Writer) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	accounts, err := buildAccounts(cfg, Options{Providers: Providers, HTTPClient: hc})
	if err != nil {
		return err
	}
	var bad []string
	for _, r := range preflightAll(ctx, accounts) {
		line := fmt.Sprintf("%s (%s): ", r.account, r.provider)
		switch {
		case r.problem != "":
			line += "NOT READY: " + r.problem
			bad = append(bad, r.account)
		case r.undetermined != nil:
			line += "NOT CHECKED: " + r.undetermined.Error()
			bad = append(bad, r.account)
		default:
			line += "ok"
			if r.quota != "" {
				line += ", " + r.quota
			}
		}
		fmt.Fprintln(out, line)
	}
	if len(bad) > 0 {
		return fmt.Errorf("preflight failed for %s", strings.Join(bad, ", "))
	}
	return nil
}
