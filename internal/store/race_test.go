//go:build race

package store_test

// raceEnabled: under the race detector sync.Pool drops some of what it is
// given, so pooled messages allocate.
const raceEnabled = true
