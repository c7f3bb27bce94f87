package worker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/talkrelay/talkrelay/internal/report"
)

// reportMetrics count what the report pollers of this replica do:
//
//	talkrelay_reports_total{account,state}          delivery reports stored
//	talkrelay_report_poll_errors_total{poller}      polls that failed (the poller backs off)
type reportMetrics struct {
	reports metric.Int64Counter
	errors  metric.Int64Counter
}

func (m *metrics) newReportMetrics() (*reportMetrics, error) {
	meter := m.provider.Meter("github.com/talkrelay/talkrelay/worker")
	var rm reportMetrics
	var err error
	if rm.reports, err = meter.Int64Counter("talkrelay.reports", metric.WithDescription("Delivery reports stored, by state.")); err != nil {
		return nil, err
	}
	if rm.errors, err = meter.Int64Counter("talkrelay.report.poll.errors", metric.WithDescription("Report polls that failed; the poller backs off.")); err != nil {
		return nil, err
	}
	return &rm, nil
}

// observe makes p, a poller of the configured account, count into rm.
func (rm *reportMetrics) observe(p *report.Poller, account string) {
	failed := metric.WithAttributes(attribute.String("poller", p.Name))
	p.Failed = func(error) { rm.errors.Add(context.Background(), 1, failed) }
	p.Stored = func(evs []*report.Event) {
		for _, ev := range evs {
			rm.reports.Add(context.Background(), 1, metric.WithAttributes(attribute.String("account", account), attribute.String("state", string(ev.State))))
		}
	}
}
