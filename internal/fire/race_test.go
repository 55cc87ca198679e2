//go:build race

package fire

// raceEnabled builds the child binary with the race detector when the tests
// run with it, so the build reuses the cache of the test build.
const raceEnabled = true
