package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/filestest"
	"roster/internal/proctest"
	"roster/internal/sqlstore/sqltest"
)

// backend is one stack the end-to-end suite runs on.
type backend struct {
	name string
	// args gives the store flags for a fresh installation.
	args func(t *testing.T) []string
}

// backends are the stacks every end-to-end test runs on: SQLite + disk
// always, PostgreSQL + S3 when their test servers are configured.
func backends() []backend {
	return []backend{
		{"sqlite+disk", func(t *testing.T) []string {
			dir := t.TempDir()
			return []string{"--data", dir}
		}},
		{"postgres+s3", func(t *testing.T) []string {
			pg := sqltest.PostgresURL(t)
			s3 := filestest.S3URL(t)
			return []string{"--data", t.TempDir(), "--db", pg, "--files", s3}
		}},
	}
}

// forEachBackend runs f as a subtest on every backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// server is a running `roster serve`, started through run.
type server struct {
	base   string // http://127.0.0.1:port
	api    string // base + /v2
	admin  string // the admin password it printed
	stdout *proctest.Buffer
	stderr *proctest.Buffer
	stop   func() error
}

var (
	listenLine = regexp.MustCompile(`listening on (https?://\S+)`)
	adminLine  = regexp.MustCompile(`created master user admin with password (\S+)`)
)

// startServer runs `roster serve` with args on 127.0.0.1:0 and waits until
// it listens. It is stopped (SIGTERM-like: its context ends) at cleanup.
func startServer(t *testing.T, args []string, env map[string]string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &proctest.Buffer{}, stderr: &proctest.Buffer{}}
	getenv := testEnv(env)
	done := make(chan error, 1)
	// Tests fire calls faster than any client would: no rate limit unless
	// the test is about it.
	if !slices.Contains(args, "--rate-limit") {
		args = append([]string{"--rate-limit", "0"}, args...)
	}
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, s.stdout, s.stderr)
	}()
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(40 * time.Second):
				stopErr = fmt.Errorf("server did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("server stopped with %v\nlog:\n%s", err, s.stderr.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenLine.FindStringSubmatch(s.stdout.String()); m != nil {
			s.base = m[1]
			s.api = s.base + "/v2"
			if m := adminLine.FindStringSubmatch(s.stdout.String()); m != nil {
				s.admin = m[1]
			}
			return s
		}
		select {
		case err := <-done:
			t.Fatalf("server exited early: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("server did not start\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
	return nil
}

// testEnv is a getenv of env alone, but for the S3 test server's
// credentials (AWS_*), which come from the test's own environment as
// filestest's buckets do, unless env sets them.
func testEnv(env map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := env[k]; ok || !strings.HasPrefix(k, "AWS_") {
			return v
		}
		return os.Getenv(k)
	}
}

// noEnv is an environment without Roster settings.
var noEnv = testEnv(nil)

// form is one of the request forms of SPEC §1.
type form string

const (
	formJSON      form = "json"
	formURL       form = "form"
	formGET       form = "get"
	formMultipart form = "multipart"
)

var plainForms = []form{formJSON, formURL, formGET}

// result is a decoded API answer.
type result struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// code is the Navixy status code of a failed answer, 0 for success.
func (r result) code() int {
	if ok, _ := r.body["success"].(bool); ok {
		return 0
	}
	if r.status == 200 && strings.HasPrefix(r.header.Get("Content-Type"), "text/tab-separated-values") {
		return 0 // a file answered (employee/import/download_failed)
	}
	st, _ := r.body["status"].(map[string]any)
	c, _ := st["code"].(float64)
	if c == 0 {
		return -1
	}
	return int(c)
}

// int reads a numeric member of the answer.
func (r result) int(key string) int64 {
	f, _ := r.body[key].(float64)
	return int64(f)
}

// textValue writes a parameter as text, the way Navixy's JS SDK does
// outside JSON: numbers in decimal, objects and arrays as JSON, null as null.
func textValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// do makes one API call in the given form.
func do(t *testing.T, api string, f form, call string, params map[string]any) result {
	t.Helper()
	return send(t, callRequest(t, api, f, call, params))
}

// callRequest is the request of an API call with params in form f.
func callRequest(t *testing.T, api string, f form, call string, params map[string]any) *http.Request {
	t.Helper()
	var req *http.Request
	u := api + "/" + call
	switch f {
	case formJSON:
		b, _ := json.Marshal(params)
		req = mustRequest(t, http.MethodPost, u, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	case formURL, formGET:
		vals := url.Values{}
		for k, v := range params {
			vals.Set(k, textValue(v))
		}
		if f == formGET {
			req = mustRequest(t, http.MethodGet, u+"?"+vals.Encode(), nil)
		} else {
			req = mustRequest(t, http.MethodPost, u, strings.NewReader(vals.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case formMultipart:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range params {
			mw.WriteField(k, textValue(v))
		}
		mw.Close()
		req = mustRequest(t, http.MethodPost, u, &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
	default:
		t.Fatalf("unknown form %q", f)
	}
	return req
}

// send sends a request and decodes the JSON answer.
func send(t *testing.T, req *http.Request) result {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := result{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s: answer is not JSON: %v\n%s", req.URL.Path, err, raw)
		}
	}
	return r
}

// ok makes a call that must succeed and returns its answer.
func ok(t *testing.T, api string, call string, params map[string]any) result {
	t.Helper()
	r := do(t, api, formJSON, call, params)
	if r.code() != 0 || r.status != 200 {
		t.Fatalf("%s(%v) = %d %s, want success", call, params, r.status, r.raw)
	}
	return r
}

// login signs in and returns the session hash.
func login(t *testing.T, api, user, password string) string {
	t.Helper()
	r := ok(t, api, "user/auth", map[string]any{"login": user, "password": password})
	h, _ := r.body["hash"].(string)
	if len(h) != 32 {
		t.Fatalf("user/auth hash = %q, want 32 hex characters", h)
	}
	return h
}

// freshServer starts a server on a new installation of backend b and signs
// in as admin.
func freshServer(t *testing.T, b backend, extra ...string) (*server, string) {
	t.Helper()
	s := startServer(t, append(b.args(t), extra...), nil)
	if s.admin == "" {
		t.Fatalf("first start printed no admin password:\n%s", s.stdout)
	}
	return s, login(t, s.api, "admin", s.admin)
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, noEnv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "roster ") {
		t.Errorf("version printed %q, want it to start with \"roster \"", out.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var errOut bytes.Buffer
	err := run(t.Context(), []string{"frobnicate"}, noEnv, io.Discard, &errOut)
	if err == nil || !strings.Contains(errOut.String(), "Usage") {
		t.Errorf("run(frobnicate) = %v with usage %q, want an error and the usage", err, errOut.String())
	}
}

// TestFirstStart is the README's first command: an empty data directory,
// the admin password printed once, and a GET sign-in returning a hash.
func TestFirstStart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, []string{"--data", dir}, nil)
	if s.admin == "" {
		t.Fatalf("no admin password printed:\n%s", s.stdout)
	}
	r := send(t, mustRequest(t, http.MethodGet, s.api+"/user/auth?login=admin&password="+url.QueryEscape(s.admin), nil))
	if h, _ := r.body["hash"].(string); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h) {
		t.Fatalf("GET user/auth = %s, want a 32-hex hash", r.raw)
	}
	if _, err := os.Stat(filepath.Join(dir, "roster.db")); err != nil {
		t.Errorf("SQLite database not under --data: %v", err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// A second start on the same data prints no new password.
	s2 := startServer(t, []string{"--data", dir}, nil)
	if s2.admin != "" {
		t.Errorf("second start printed an admin password again")
	}
	login(t, s2.api, "admin", s.admin)
}

func TestAdminPasswordFromEnvironment(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, map[string]string{"ROSTER_ADMIN_PASSWORD": "correct horse"})
	if s.admin != "" {
		t.Errorf("printed a password although ROSTER_ADMIN_PASSWORD was set")
	}
	login(t, s.api, "admin", "correct horse")
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	env := noEnv
	var out bytes.Buffer
	if err := run(t.Context(), []string{"user", "create", "--data", dir, "--login", "ops", "--password", "first-pass"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(strings.TrimSpace(out.String())); err != nil {
		t.Errorf("user create printed %q, want an id", out.String())
	}
	if err := run(t.Context(), []string{"user", "create", "--data", dir, "--login", "ops", "--password", "another-password"}, env, io.Discard, io.Discard); err == nil {
		t.Errorf("creating a taken login succeeded")
	}
	s := startServer(t, []string{"--data", dir}, nil)
	old := login(t, s.api, "ops", "first-pass")
	if err := run(t.Context(), []string{"user", "passwd", "--data", dir, "--login", "ops", "--password", "second-pass"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if r := do(t, s.api, formJSON, "user/get_info", map[string]any{"hash": old}); r.code() != 4 {
		t.Errorf("old session after passwd: code %d, want 4", r.code())
	}
	if r := do(t, s.api, formJSON, "user/auth", map[string]any{"login": "ops", "password": "first-pass"}); r.code() != 102 {
		t.Errorf("old password after passwd: code %d, want 102", r.code())
	}
	login(t, s.api, "ops", "second-pass")
	if err := run(t.Context(), []string{"user", "passwd", "--data", dir, "--login", "nobody", "--password", "another-password"}, env, io.Discard, io.Discard); err == nil {
		t.Errorf("passwd of an unknown login succeeded")
	}
}

// TestFlagsFromEnvironment: every flag has an environment variable, and a
// flag wins over it.
func TestFlagsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, []string{"--data", dir, "--base-path", "/api"}, map[string]string{"ROSTER_BASE_PATH": "/ignored", "ROSTER_ADMIN_PASSWORD": "pw-1234567890"})
	if r := do(t, s.base+"/api", formJSON, "user/auth", map[string]any{"login": "admin", "password": "pw-1234567890"}); r.code() != 0 {
		t.Errorf("auth under the flag's base path = %s", r.raw)
	}
	s2 := startServer(t, []string{"--data", t.TempDir()}, map[string]string{"ROSTER_BASE_PATH": "/env", "ROSTER_ADMIN_PASSWORD": "pw-1234567890"})
	if r := do(t, s2.base+"/env", formJSON, "user/auth", map[string]any{"login": "admin", "password": "pw-1234567890"}); r.code() != 0 {
		t.Errorf("auth under the environment's base path = %s", r.raw)
	}
	var errOut bytes.Buffer
	err := run(t.Context(), []string{"serve", "--data", t.TempDir()}, func(k string) string {
		if k == "ROSTER_MAX_SIDE" {
			return "many"
		}
		return ""
	}, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), "ROSTER_MAX_SIDE") {
		t.Errorf("a bad ROSTER_MAX_SIDE gave %v, want an error naming it", err)
	}
}

func mustRequest(t *testing.T, method, u string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
