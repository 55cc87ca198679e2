package api

import (
	"errors"

	"roster/internal/avatar"

	"roster/internal/roster"
)

// Navixy status codes that Roster answers.
const (
	codeDatabase       = 1
	codeWrongHash      = 3
	codeNoSession      = 4
	codeBadRequest     = 5
	codeUnexpected     = 6
	codeInvalidParams  = 7
	codeTooLarge       = 9
	codeAccessDenied   = 11
	codeNotPermitted   = 13
	codeRateLimited    = 15
	codeBadCredentials = 102
	codeLoginAttempts  = 105
	codeNotFound       = 201
	codeNoEntity       = 204
	codeLoginTaken     = 206
	codeNoFile         = 233
	codeInvalidFile    = 234
	codeExists         = 247
	codeCannotSave     = 254
	codeOverQuota      = 268
	codeFileTooLarge   = 271
)

// statuses is the one table from a Navixy code to its description and HTTP
// status (SPEC §1).
var statuses = map[int]struct {
	description string
	http        int
}{
	codeDatabase:       {"Database error", 500},
	codeWrongHash:      {"Wrong hash", 400},
	codeNoSession:      {"User or API key not found or session ended", 400},
	codeBadRequest:     {"Wrong request format", 400},
	codeUnexpected:     {"Unexpected error", 500},
	codeInvalidParams:  {"Invalid parameters", 400},
	codeTooLarge:       {"Too large request", 412},
	codeAccessDenied:   {"Access denied", 403},
	codeNotPermitted:   {"Operation not permitted", 403},
	codeRateLimited:    {"Too many requests (rate limit exceeded)", 429},
	codeBadCredentials: {"Wrong login or password", 400},
	codeLoginAttempts:  {"Login attempts limit exceeded", 400},
	codeNotFound:       {"Not found in the database", 400},
	codeNoEntity:       {"Entity not found", 404},
	codeLoginTaken:     {"Login already in use", 409},
	codeNoFile:         {"No data file", 400},
	codeInvalidFile:    {"Invalid data format", 400},
	codeExists:         {"Entity already exists", 409},
	codeCannotSave:     {"Cannot save file", 500},
	codeOverQuota:      {"Over quota", 402},
	codeFileTooLarge:   {"File over max size", 413},
}

// callStatuses are the calls that answer a code with another HTTP status
// than statuses gives it, as Navixy's current description has them: the
// API-key calls answer 4 (no session, or an API key where a password
// session is needed) with 403.
var callStatuses = map[string]map[int]int{
	"api/key/create": {codeNoSession: 403},
	"api/key/list":   {codeNoSession: 403},
	"api/key/delete": {codeNoSession: 403},
}

// httpStatus is the HTTP status of code answered by call.
func httpStatus(call string, code int) int {
	if st, ok := callStatuses[call][code]; ok {
		return st
	}
	return statuses[code].http
}

// apiError is an error with its Navixy code, the parameters it names and,
// for the log only, its cause.
type apiError struct {
	code   int
	params roster.InvalidParams
	cause  error
}

func (e *apiError) Error() string {
	msg := statuses[e.code].description
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.cause }

// fail makes an error with a code; cause goes to the log, never the client.
func fail(code int, cause error) error { return &apiError{code: code, cause: cause} }

// failParam makes an error with a code that names the parameter at fault,
// with a reason for people.
func failParam(code int, param, reason string) error {
	return &apiError{code: code, params: roster.InvalidParams{{Parameter: param, Reason: reason}}}
}

// classify finds the Navixy code for an error a handler returned. An error
// that is none of the known kinds comes from the database, since that is
// the only other thing handlers call; other internal failures are wrapped
// with fail(codeUnexpected, ...) where they happen.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ip roster.InvalidParams
	if errors.As(err, &ip) {
		return &apiError{code: codeInvalidParams, params: ip, cause: err}
	}
	var re *avatar.RejectError
	if errors.As(err, &re) {
		return &apiError{code: codeInvalidFile, params: roster.InvalidParams{{Parameter: "file", Reason: re.Reason}}, cause: err}
	}
	code := codeDatabase
	switch {
	case errors.Is(err, roster.ErrNotFound):
		code = codeNotFound
	case errors.Is(err, roster.ErrExists):
		code = codeExists
	case errors.Is(err, roster.ErrOverQuota):
		code = codeOverQuota
	case errors.Is(err, roster.ErrLoginTaken):
		code = codeLoginTaken
	case errors.Is(err, roster.ErrForbidden):
		code = codeNotPermitted
	case errors.Is(err, roster.ErrBadCredentials):
		code = codeBadCredentials
	case errors.Is(err, roster.ErrNoSession):
		code = codeNoSession
	case errors.Is(err, roster.ErrAccessDenied):
		code = codeAccessDenied
	}
	return &apiError{code: code, cause: err}
}
