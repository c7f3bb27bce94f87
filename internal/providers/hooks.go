package providers

import (
	"net/http"

	"github.com/talkrelay/talkrelay/internal/job"
)

// WebhookSignatureCredential names the credential that holds the signature
// a provider's webhook carries (the value entered in the provider's
// webhook settings). An account with it set accepts pushed reports.
const WebhookSignatureCredential = "webhook_signature"

// HookReporter is a provider that pushes delivery reports to a webhook
// (NHN's MESSAGE_RESULT_UPDATE). It is optional: a Provider that
// implements it can have its reports pushed as well as polled.
type HookReporter interface {
	// HookSigned reports whether a webhook request's header carries
	// signature, compared in constant time.
	HookSigned(h http.Header, signature string) bool
	// ReportHook parses one webhook request body into the terminal
	// reports it carries. An error means the body is not a hook of this
	// provider at all.
	ReportHook(body []byte) (*HookReports, error)
}

// HookReports is what one webhook request carries.
type HookReports struct {
	// Reports are the terminal reports, each with the job kind it was
	// sent as ("" when the hook does not say).
	Reports []HookReport
	// Foreign counts entries of messages talkrelay did not send (no key
	// of talkrelay's): they are dropped.
	Foreign int
	// Pending counts entries that are not a terminal report on their own:
	// polling reports them.
	Pending int
	// Ignored says the hook is of an event that carries no reports.
	Ignored bool
}

// HookReport is one terminal report of a webhook.
type HookReport struct {
	Kind job.Kind
	Report
}
