package providers

import (
	"context"

	"github.com/talkrelay/talkrelay/internal/job"
)

// RequestReporter is a provider whose delivery reports are read per send
// request, by the request id its send answered (NAVER's request list
// with requestId). Its reports carry no id talkrelay chose: they are
// correlated by the provider's message id, which the accepted results
// hold. It is optional: a Provider that implements it gets a report
// poller.
type RequestReporter interface {
	// ReportKinds are the job kinds whose reports it gives.
	ReportKinds() []job.Kind
	// RequestReports are the terminal reports of the messages of request
	// requestID that have reached one, with their MessageID and no job
	// or index; a message not in them is not terminal yet.
	RequestReports(ctx context.Context, requestID string) ([]Report, error)
	// MessageReport is the report of one message whose request id is not
	// known (its outcome came from a lookup that did not give it);
	// terminal is false while it has none.
	MessageReport(ctx context.Context, messageID string) (rep Report, terminal bool, err error)
}
