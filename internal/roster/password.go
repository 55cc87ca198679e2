package roster

import (
	"strings"
	"unicode"
)

// A PasswordPolicy is what a new password must satisfy. The rules live
// here alone: the API's sub-user calls and the CLI's master commands ask
// the same policy type, so their messages are the same words.
type PasswordPolicy struct {
	MinLength, MaxLength int // in characters
	// Mixed asks for an upper-case letter, a lower-case letter, a digit
	// and a special character (any other printable character:
	// punctuation, a symbol, a space).
	Mixed bool
}

var (
	// SubUserPasswords is Navixy's documented policy for sub-users (SPEC
	// §3: 6 to 20 characters of every class).
	SubUserPasswords = PasswordPolicy{MinLength: 6, MaxLength: 20, Mixed: true}
	// MasterPasswords is for the master users the CLI makes and the first
	// admin's ROSTER_ADMIN_PASSWORD: long enough that guessing at the
	// sign-in limit gets nowhere, with room for a passphrase or a password
	// manager's password (argon2id costs the same at any length). Length
	// makes the strength, so no classes are asked for.
	MasterPasswords = PasswordPolicy{MinLength: 10, MaxLength: 256}
)

// Check adds to errs, under param, every way password fails the policy.
func (p PasswordPolicy) Check(errs *InvalidParams, param, password string) {
	n := len(*errs)
	Text(errs, param, password, p.MinLength, p.MaxLength)
	if len(*errs) != n || !p.Mixed {
		return
	}
	var missing []string
	for _, class := range []struct {
		name string
		is   func(rune) bool
	}{
		{"an upper-case letter", unicode.IsUpper},
		{"a lower-case letter", unicode.IsLower},
		{"a digit", unicode.IsDigit},
		{"a special character", func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }},
	} {
		if !strings.ContainsFunc(password, class.is) {
			missing = append(missing, class.name)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		errs.Add(param, "must also hold "+missing[0])
	default:
		errs.Add(param, "must also hold "+strings.Join(missing[:len(missing)-1], ", ")+" and "+missing[len(missing)-1])
	}
}
