package worker

import "time"

// Tests read the lanes' lag more often than a deployment does.
func init() { lagEvery = 200 * time.Millisecond }

var NewHTTPClient = newHTTPClient
