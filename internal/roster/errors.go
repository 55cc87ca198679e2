package roster

import (
	"errors"
	"strings"
)

// Sentinel errors. Stores and handlers wrap them with %w; the API edge turns
// them into Navixy codes with errors.Is / errors.As.
var (
	// ErrNotFound: the entity does not exist or belongs to another account (201).
	ErrNotFound = errors.New("not found")
	// ErrExists: a unique value is taken, e.g. a tracker id (247).
	ErrExists = errors.New("entity already exists")
	// ErrOverQuota: the account holds as many of a kind as it may (268).
	ErrOverQuota = errors.New("over quota")
	// ErrLoginTaken: a login is taken (206).
	ErrLoginTaken = errors.New("login already in use")
	// ErrForbidden: the caller lacks the right the call needs (13).
	ErrForbidden = errors.New("operation not permitted")
	// ErrBadCredentials: wrong login or password (102).
	ErrBadCredentials = errors.New("wrong login or password")
	// ErrNoSession: unknown, expired or ended session (4).
	ErrNoSession = errors.New("session not found or ended")
	// ErrAccessDenied: the account is blocked or not activated (11).
	ErrAccessDenied = errors.New("access denied")
	// ErrInvalidName: a file name that a file store refuses to use.
	ErrInvalidName = errors.New("invalid file name")
)

// ParamError is an invalid parameter (7). A handler may return several at
// once as InvalidParams.
type ParamError struct {
	Parameter string
	Reason    string
}

func (e ParamError) Error() string { return e.Parameter + ": " + e.Reason }

// InvalidParams is a list of parameter errors, answered as code 7 with one
// entry per parameter.
type InvalidParams []ParamError

func (e InvalidParams) Error() string {
	parts := make([]string, len(e))
	for i, p := range e {
		parts[i] = p.Error()
	}
	return "invalid parameters: " + strings.Join(parts, "; ")
}

// Add appends a parameter error.
func (e *InvalidParams) Add(param, reason string) {
	*e = append(*e, ParamError{Parameter: param, Reason: reason})
}

// Err returns e as an error, or nil when it holds nothing.
func (e InvalidParams) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}
