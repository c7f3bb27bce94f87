package providers

// Advisor is implemented by providers whose account can be set up in a
// way that works today but is known to stop working: a compatibility
// path with an end date. The worker logs the advice at start-up and
// --check-config prints it.
type Advisor interface {
	// Advice lists what to change, one sentence each; none when nothing.
	Advice() []string
}
