package worker

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/providers/sandbox"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// reportPoller is a report poller of a configured account.
type reportPoller struct {
	*report.Poller
	account string
}

// reportPollers makes a report poller for every account whose reports
// are on; it starts nothing, so that a config it refuses stops the worker
// before anything runs.
func (w *Worker) reportPollers(ctx context.Context) ([]reportPoller, error) {
	kv, err := w.js.KeyValue(ctx, streams.ReportsBucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", streams.ReportsBucket, err)
	}
	holder := replicaName()
	var pollers []reportPoller
	for i := range w.cfg.Accounts {
		a := &w.cfg.Accounts[i]
		acct := w.accounts[a.Name]
		srcs, sandboxed := w.reportSources(acct, a.Reports.Horizon)
		if !a.Reports.On(sandboxed) {
			continue
		}
		if len(srcs) == 0 {
			return nil, w.cfg.Locate(fmt.Errorf("accounts.%s.reports.enabled: talkrelay does not poll reports of provider %s", a.Name, acct.Provider))
		}
		for name, src := range srcs {
			// Leases are kept on the wall clock, which every replica shares.
			pollers = append(pollers, reportPoller{account: a.Name, Poller: &report.Poller{Name: name, Source: src, JS: w.js, KV: kv,
				Config: a.Reports, Holder: holder, Log: w.log, Now: time.Now}})
		}
	}
	return pollers, nil
}

// pollReports runs pollers, counted in the metrics; each polls while this
// replica holds its lease. The returned function waits for them to stop
// once ctx has ended.
func (w *Worker) pollReports(ctx context.Context, pollers []reportPoller) (wait func(), err error) {
	rm, err := w.metrics.newReportMetrics()
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var wg sync.WaitGroup
	for _, p := range pollers {
		rm.observe(p.Poller, p.account)
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx) }()
	}
	return wg.Wait, nil
}

// reportSources are where account a's reports come from, by poller name
// (none when talkrelay does not poll its provider): a provider's own
// reports, and the expired reports of what it leaves unreported past
// horizon; sandboxed says they are the sandbox's, on by default, which
// reports everything.
func (w *Worker) reportSources(a *account, horizon time.Duration) (srcs map[string]report.Source, sandboxed bool) {
	switch c := a.Client.(type) {
	case *sandbox.Client:
		cfg := c.Config()
		return map[string]report.Source{a.Name: &report.Sandbox{Store: w.records, Account: a.Name, ReportDelay: cfg.ReportDelay,
			FallbackRate: cfg.FallbackRate, Now: w.clock.Now}}, true
	case providers.WindowReporter:
		srcs = map[string]report.Source{}
		for _, kind := range c.ReportKinds() {
			srcs[a.Name+"."+string(kind)] = &report.Window{Reporter: c, Kind: kind, Account: a.Name, Provider: a.Provider,
				Limiter: a.Limiter, Store: w.records, Now: w.clock.Now}
		}
		srcs[a.Name+".expiry"] = w.expirySource(a, c.ReportKinds(), horizon)
		return srcs, false
	case providers.RequestReporter:
		return map[string]report.Source{
			a.Name: &report.Requests{Reporter: c, JS: w.js, Account: a.Name, Provider: a.Provider, Limiter: a.Limiter,
				Store: w.records, Horizon: horizon, Now: w.clock.Now},
			a.Name + ".expiry": w.expirySource(a, c.ReportKinds(), horizon),
		}, false
	case providers.QueueReporter:
		return map[string]report.Source{
			a.Name: &report.Queue{Reporter: c, Account: a.Name, Provider: a.Provider, Limiter: a.Limiter,
				Store: w.records, Now: w.clock.Now},
			a.Name + ".expiry": w.expirySource(a, c.ReportKinds(), horizon),
		}, false
	}
	return nil, false
}

// expirySource reports expired what account a's provider leaves
// unreported, of kinds, past horizon; a provider that can look such a
// message up (providers.ReportLookup: Kakao) is asked first, each request
// through the account's rate limit and request timeout, as a lookup of an
// unknown outcome is.
func (w *Worker) expirySource(a *account, kinds []job.Kind, horizon time.Duration) report.Source {
	x := &report.Expiry{JS: w.js, Store: w.records, Account: a.Name, Kinds: kinds, Horizon: horizon, Now: w.clock.Now}
	if l, ok := a.Client.(providers.ReportLookup); ok {
		x.Lookup = l
		x.Gate = a.RequestGate(1)
	}
	return x
}

// replicaName names this replica in report leases: host, process and a
// random part, so that a restarted process is a new holder.
func replicaName() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + nuid.Next()
}
