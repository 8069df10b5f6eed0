// Package allocguard serves the tests that guard a hot path's allocation
// count with testing.AllocsPerRun.
package allocguard

import "testing"

// SkipUnderRace skips t in a binary built with -race: the race detector
// allocates for its own bookkeeping and makes sync.Pool drop a quarter of
// what is put back, so counts vary from run to run and a guard would flake.
// `make test` runs the guards again without -race (`make test-allocs`).
func SkipUnderRace(t testing.TB) {
	t.Helper()
	if raceEnabled {
		t.Skip("allocation counts are not deterministic under -race; run `make test-allocs`")
	}
}
