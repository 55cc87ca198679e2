package roster

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommendation for argon2id (19 MiB, two
// passes, one lane) — slow enough to make offline guessing expensive, small
// enough that a burst of logins does not exhaust memory.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// PasswordHashBytes is the memory one HashPassword or CheckPassword holds
// while it runs, so that a server can bound how many run at once.
const PasswordHashBytes = argonMemory << 10

// HashPassword derives a storable argon2id hash of password, in the PHC
// string format ($argon2id$v=19$m=...,t=...,p=...$salt$key).
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime,
		argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// dummyHash is checked against when a login is unknown, so that an unknown
// login and a wrong password take the same time.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$VGhpcyBpcyBub3QgYSByZWFsIGtleSwganVzdCBwYWQ"

// CheckPassword reports whether password matches hash. An empty hash (no
// such user) is checked against a dummy hash and never matches.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		checkPHC(dummyHash, password)
		return false
	}
	ok, err := checkPHC(hash, password)
	return err == nil && ok
}

func checkPHC(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("not an argon2id hash")
	}
	var version int
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil {
		return false, fmt.Errorf("argon2 parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, time, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewSessionKey makes a session key: 128 bits from the CSPRNG, as 32
// lowercase hex characters. Only its digest is stored.
func NewSessionKey() (key string, digest []byte, err error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	key = hex.EncodeToString(b)
	return key, KeyDigest(key), nil
}

// KeyDigest is the stored form of a session key. The key has 128 random
// bits, so a fast hash is enough: nothing can be guessed from the digest.
func KeyDigest(key string) []byte {
	sum := sha256.Sum256([]byte(strings.ToLower(key)))
	return sum[:]
}

// ValidKey reports whether s has the form of a session key (32 hex).
func ValidKey(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// RandomPassword makes a password for the first admin: 26 base32
// characters, 128 bits from the CSPRNG.
func RandomPassword() string { return rand.Text() }
