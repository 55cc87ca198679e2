package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"roster/internal/filestest"
	"roster/internal/s3"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestFrontDoor: a browser pointed at the server finds the console, the
// start-up line names the console's and the API's URLs, and the site has
// an icon.
func TestFrontDoor(t *testing.T) {
	t.Parallel()
	s := startServer(t, []string{"--data", t.TempDir()}, nil)
	line := s.stdout.String()
	for _, want := range []string{"console " + s.base + "/console/", "API " + s.base + "/v2"} {
		if !strings.Contains(line, want) {
			t.Errorf("start-up line lacks %q:\n%s", want, line)
		}
	}
	status, _, h := get(t, noRedirect, s.base+"/")
	if status != http.StatusFound || h.Get("Location") != "/console/" {
		t.Errorf("GET / = %d to %q, want 302 to /console/", status, h.Get("Location"))
	}
	status, body, _ := get(t, noRedirect, s.base+"/console/")
	if status != http.StatusOK || !strings.Contains(body, `rel="icon"`) {
		t.Errorf("GET /console/ = %d, icon link %v", status, strings.Contains(body, `rel="icon"`))
	}
	for _, path := range []string{"/favicon.ico", "/console/favicon.svg"} {
		status, body, h = get(t, noRedirect, s.base+path)
		if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "image/svg+xml") || !strings.HasPrefix(body, "<svg") {
			t.Errorf("GET %s = %d %q %.20q, want the SVG icon", path, status, h.Get("Content-Type"), body)
		}
	}
	// Paths under / that no route knows are still 404s.
	if status, _, _ := get(t, noRedirect, s.base+"/nothing-here"); status != http.StatusNotFound {
		t.Errorf("GET /nothing-here = %d, want 404", status)
	}
}

// TestMetricsStatus: /metrics tells a 404 for an unknown path from an API
// success, and carries every answer's HTTP status.
func TestMetricsStatus(t *testing.T) {
	t.Parallel()
	s := startServer(t, []string{"--data", t.TempDir()}, nil)
	get(t, noRedirect, s.base+"/nothing-here")
	login(t, s.api, "admin", s.admin)
	do(t, s.api, formJSON, "user/auth", map[string]any{"login": "admin", "password": "wrong-password"})
	_, metrics, _ := get(t, noRedirect, s.base+"/metrics")
	for _, want := range []string{
		`roster_requests_total{call="other",code="none",status="404"} 1`,
		`roster_requests_total{call="user/auth",code="0",status="200"} 1`,
		`roster_requests_total{call="user/auth",code="102",status="400"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s; they have:\n%s", want, grepLines(metrics, "roster_requests_total{"))
		}
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAdminPasswordIgnored: ROSTER_ADMIN_PASSWORD on a database that has
// users already changes nothing, and the log says so.
func TestAdminPasswordIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, []string{"--data", dir}, map[string]string{"ROSTER_ADMIN_PASSWORD": "first-password"})
	if strings.Contains(s.stderr.String(), "ignored") {
		t.Errorf("first start warns:\n%s", s.stderr)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, []string{"--data", dir}, map[string]string{"ROSTER_ADMIN_PASSWORD": "second-password"})
	login(t, s.api, "admin", "first-password")
	r := do(t, s.api, formJSON, "user/auth", map[string]any{"login": "admin", "password": "second-password"})
	if r.code() == 0 {
		t.Error("the ignored password signs in")
	}
	s.stop()
	if log := s.stderr.String(); !strings.Contains(log, "ROSTER_ADMIN_PASSWORD is ignored") {
		t.Errorf("log does not say the password was ignored:\n%s", log)
	}
}

// TestServeS3Bucket: serve refuses a bucket that does not exist, saying
// how to make it; --create-bucket makes it; the credentials come through
// the same environment as every setting.
func TestServeS3Bucket(t *testing.T) {
	t.Parallel()
	missing, bucket := filestest.MissingS3URL(t)
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--files", missing}
	err := run(t.Context(), args, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "aws s3 mb s3://"+bucket) || !strings.Contains(err.Error(), "--create-bucket") {
		t.Fatalf("serve with a missing bucket = %v, want an error saying how to make it", err)
	}
	wrong := testEnv(map[string]string{"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
	if err := run(t.Context(), append(args, "--create-bucket"), wrong, io.Discard, io.Discard); err == nil {
		t.Fatal("serve with a wrong S3 secret in its environment started")
	}
	startServer(t, []string{"--data", t.TempDir(), "--files", missing, "--create-bucket"}, nil)
	if _, err := s3.Open(t.Context(), missing, s3.Options{Credentials: s3.CredentialsFrom(os.Getenv)}); err != nil {
		t.Errorf("the bucket --create-bucket made does not open: %v", err)
	}
}

// TestMasterPasswordPolicy: the CLI's master passwords and the first
// admin's follow one policy — a minimum length, room for passphrases —
// worded as the API words its own refusals.
func TestMasterPasswordPolicy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	create := func(password string) error {
		return run(t.Context(), []string{"user", "create", "--data", dir, "--login", "ops" + strconv.Itoa(len(password)), "--password", password}, noEnv, io.Discard, io.Discard)
	}
	if err := create("short-pw"); err == nil || !strings.Contains(err.Error(), "--password: must be at least 10 characters long") {
		t.Errorf("user create with an 8-character password = %v, want a refusal naming the minimum", err)
	}
	passphrase := strings.Repeat("correct horse battery staple ", 8) // 232 characters
	if err := create(passphrase); err != nil {
		t.Errorf("user create with a long passphrase = %v", err)
	}
	err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, testEnv(map[string]string{"ROSTER_ADMIN_PASSWORD": "short"}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ROSTER_ADMIN_PASSWORD: must be at least 10 characters long") {
		t.Errorf("serve with a short ROSTER_ADMIN_PASSWORD = %v, want a refusal", err)
	}
	s := startServer(t, []string{"--data", dir}, nil)
	login(t, s.api, "ops232", passphrase)
	// The API words a sub-user's refusal the same way.
	hash := login(t, s.api, "ops232", passphrase)
	r := do(t, s.api, formJSON, "subuser/register", map[string]any{"hash": hash, "password": "Aa1!",
		"user": map[string]any{"login": "sub@example.com", "first_name": "S", "middle_name": "", "last_name": "U", "legal_type": "individual", "phone": "", "activated": true}})
	if !strings.Contains(string(r.raw), `"must be at least 6 characters long"`) {
		t.Errorf("subuser/register with a short password = %s, want the same words", r.raw)
	}
}

// TestBackupRefusals: roster backup writes only into a new or empty
// directory, and only from SQLite + disk.
func TestBackupRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := run(t.Context(), []string{"user", "create", "--data", dir, "--login", "ops", "--password", "ops-password"}, noEnv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"--data", dir}, "needs --to"},
		{"target not empty", []string{"--data", dir, "--to", full}, "is not empty (it holds keep)"},
		{"PostgreSQL", []string{"--db", "postgres://u@127.0.0.1:1/db", "--to", t.TempDir()}, "pg_dump"},
		{"missing source", []string{"--data", filepath.Join(dir, "nope"), "--to", filepath.Join(t.TempDir(), "b")}, "--db: stat"},
	} {
		err := run(t.Context(), append([]string{"backup"}, tc.args...), noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: roster backup = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// A backup of a server that is not running serves the same account.
	to := filepath.Join(t.TempDir(), "backup")
	if err := run(t.Context(), []string{"backup", "--data", dir, "--to", to}, noEnv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, []string{"--data", to}, nil)
	login(t, s.api, "ops", "ops-password")
}
