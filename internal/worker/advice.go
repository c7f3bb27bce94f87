package worker

import (
	"github.com/talkrelay/talkrelay/internal/dispatch"
	"github.com/talkrelay/talkrelay/internal/providers"
)

// accountAdvice is the providers' advice (providers.Advisor) on the
// accounts, each line naming its account.
func accountAdvice(accounts []*dispatch.Account) []string {
	var out []string
	for _, a := range accounts {
		if adv, ok := a.Client.(providers.Advisor); ok {
			for _, s := range adv.Advice() {
				out = append(out, "accounts."+a.Name+": "+s)
			}
		}
	}
	return out
}
