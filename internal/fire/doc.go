// Package fire holds Roster's proof-under-fire suites: tests that run the
// real roster binary as a child process and attack it — SIGKILLs in the
// middle of writes (crash_test.go), a failing file store and database
// (fault_test.go), hostile input (abuse_test.go), rate limits
// (limits_test.go), sign-in floods and proxies (signin_test.go), memory and
// fairness under hostile pictures, trickling uploads and another tenant's
// load (resources_test.go), whole lists of a big account (list_test.go)
// and a sustained mixed load (load_test.go). The suites that measure memory
// or latency run a build without the race detector. Each suite
// checks its invariants with functions that return errors, so a test can
// show a checker failing on a state broken on purpose.
//
// The package has no code of its own beyond this comment.
package fire
