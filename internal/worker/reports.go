package worker

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/nats-io/nuid"

	"github.com/talkrelay/talkrelay/internal/providers/sandbox"
	"github.com/talkrelay/talkrelay/internal/report"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// pollReports starts a report poller for every account whose reports are
// on; each polls while this replica holds its account's lease. The
// returned function waits for them to stop once ctx has ended.
func (w *Worker) pollReports(ctx, setupCtx context.Context) (wait func(), err error) {
	kv, err := w.js.KeyValue(setupCtx, streams.ReportsBucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", streams.ReportsBucket, err)
	}
	holder := replicaName()
	var pollers []*report.Poller
	for i := range w.cfg.Accounts {
		a := &w.cfg.Accounts[i]
		acct := w.accounts[a.Name]
		src, sandboxed := w.reportSource(acct)
		if !a.Reports.On(sandboxed) {
			continue
		}
		if src == nil {
			return nil, w.cfg.Locate(fmt.Errorf("accounts.%s.reports.enabled: talkrelay does not poll reports of provider %s", a.Name, acct.Provider))
		}
		p := &report.Poller{Account: a.Name, Source: src, JS: w.js, KV: kv, Limiter: acct.Limiter,
			Config: a.Reports, Holder: holder, Log: w.log, Now: w.clock.Now}
		if sandboxed {
			p.Limiter = nil // its polls read JetStream, not a provider
		}
		pollers = append(pollers, p)
	}
	var wg sync.WaitGroup
	for _, p := range pollers {
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx) }()
	}
	return wg.Wait, nil
}

// reportSource is where account a's reports come from, or nil when
// talkrelay does not poll its provider; sandboxed says it is the
// sandbox's, on by default.
func (w *Worker) reportSource(a *account) (src report.Source, sandboxed bool) {
	if sb, ok := a.Client.(*sandbox.Client); ok {
		cfg := sb.Config()
		return &report.Sandbox{JS: w.js, Account: a.Name, ReportDelay: cfg.ReportDelay, FallbackRate: cfg.FallbackRate, Now: w.clock.Now}, true
	}
	return nil, false
}

// replicaName names this replica in report leases: host, process and a
// random part, so that a restarted process is a new holder.
func replicaName() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + nuid.Next()
}
