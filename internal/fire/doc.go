// Package fire holds Roster's proof-under-fire suites: tests that run the
// real roster binary as a child process and attack it — SIGKILLs in the
// middle of writes (crash_test.go), a failing file store and database
// (fault_test.go), hostile input (abuse_test.go), rate limits
// (limits_test.go) and a sustained mixed load (load_test.go). Each suite
// checks its invariants with functions that return errors, so a test can
// show a checker failing on a state broken on purpose.
//
// The package has no code of its own beyond this comment.
package fire
