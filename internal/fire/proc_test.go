package fire

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/filestest"
	"roster/internal/proctest"
	"roster/internal/sqlstore/sqltest"
)

// binary is the roster program under test, built once per package run
// (with the race detector when the tests have it); plain is the same
// program without the race detector, for the tests that measure memory and
// latency (the same file when the tests have no race detector).
var binary, plain string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "roster-fire-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary, err = proctest.Build(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "building roster:", err)
			return 1
		}
		plain = binary
		if proctest.Race {
			pdir := filepath.Join(dir, "plain")
			if err := os.Mkdir(pdir, 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if plain, err = proctest.BuildPlain(pdir); err != nil {
				fmt.Fprintln(os.Stderr, "building roster without the race detector:", err)
				return 1
			}
		}
		return m.Run()
	}())
}

const adminPassword = "fire-admin-password"

// stack is one installation: the store flags and where the stores are, so
// a test can look at them directly.
type stack struct {
	name     string
	args     []string // --data, --db, --files
	data     string   // the --data directory
	sqlite   string   // the SQLite file, "" on PostgreSQL
	dbURL    string   // the database URL sqlstore.Open takes
	files    string   // the file directory, "" on S3
	filesURL string   // the --files URL (file:... or s3://...)
}

// stacks are the installations a suite runs on: SQLite + disk always,
// PostgreSQL + S3 when their test servers are configured (skipped with a
// message otherwise).
var stacks = []struct {
	name string
	make func(t *testing.T) stack
}{
	{"sqlite+disk", sqliteStack},
	{"postgres+s3", postgresStack},
}

func sqliteStack(t *testing.T) stack {
	dir := t.TempDir()
	st := stack{name: "sqlite+disk", data: dir, sqlite: filepath.Join(dir, "roster.db"), files: filepath.Join(dir, "files")}
	st.dbURL = "sqlite:" + st.sqlite
	st.filesURL = "file:" + st.files
	st.args = []string{"--data", dir}
	return st
}

func postgresStack(t *testing.T) stack {
	pg := sqltest.PostgresURL(t)
	s3 := filestest.S3URL(t)
	dir := t.TempDir()
	return stack{name: "postgres+s3", data: dir, dbURL: pg, filesURL: s3,
		args: []string{"--data", dir, "--db", pg, "--files", s3}}
}

// forEachStack runs f as a parallel subtest on every stack.
func forEachStack(t *testing.T, f func(t *testing.T, st stack)) {
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			f(t, s.make(t))
		})
	}
}

// serve starts `roster serve` on a free loopback port with the stack's
// stores and extra flags (no rate limit unless extra sets one), and waits
// until it listens. It is killed at cleanup if still running.
func serve(t testing.TB, st stack, extra ...string) *proctest.Proc {
	t.Helper()
	return serveBinary(t, binary, st, extra...)
}

// servePlain is serve with the program built without the race detector,
// for measuring its memory and latencies as a user would meet them.
func servePlain(t testing.TB, st stack, extra ...string) *proctest.Proc {
	t.Helper()
	return serveBinary(t, plain, st, extra...)
}

func serveBinary(t testing.TB, bin string, st stack, extra ...string) *proctest.Proc {
	t.Helper()
	args := []string{"serve", "--addr", "127.0.0.1:0"}
	if !containsFlag(extra, "--rate-limit") {
		args = append(args, "--rate-limit", "0")
	}
	args = append(append(args, st.args...), extra...)
	return proctest.Start(t, bin, args, append(os.Environ(), "ROSTER_ADMIN_PASSWORD="+adminPassword), 60*time.Second)
}

func containsFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// reply is an API answer.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// code is the Navixy code of the answer: 0 on success, -1 if it is not an
// envelope at all.
func (r reply) code() int {
	if ok, _ := r.body["success"].(bool); ok {
		return 0
	}
	st, _ := r.body["status"].(map[string]any)
	if c, ok := st["code"].(float64); ok {
		return int(c)
	}
	return -1
}

func (r reply) String() string {
	s := string(r.raw)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return fmt.Sprintf("%d %s", r.status, s)
}

// client calls one server as one signed-in user.
type client struct {
	http *http.Client
	api  string
	hash string
}

func newClient(api string) *client {
	return &client{api: api, http: &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signIn signs in as admin.
func (c *client) signIn(ctx context.Context) error {
	r, err := c.call(ctx, "user/auth", map[string]any{"login": "admin", "password": adminPassword})
	if err != nil {
		return err
	}
	h, _ := r.body["hash"].(string)
	if len(h) != 32 {
		return fmt.Errorf("user/auth = %s", r)
	}
	c.hash = h
	return nil
}

// call makes a JSON call with the client's hash. An error means no answer
// arrived: the call may or may not have been applied.
func (c *client) call(ctx context.Context, name string, params map[string]any) (reply, error) {
	if c.hash != "" {
		params["hash"] = c.hash
	}
	b, err := json.Marshal(params)
	if err != nil {
		return reply{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api+"/"+name, bytes.NewReader(b))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req)
}

// do sends a request and reads the answer.
func (c *client) do(req *http.Request) (reply, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s: answer is not JSON: %v", req.URL.Path, err)
		}
	}
	return r, nil
}

// must makes a call that has to succeed.
func (c *client) must(t testing.TB, name string, params map[string]any) reply {
	t.Helper()
	r, err := c.call(context.Background(), name, params)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if r.code() != 0 {
		t.Fatalf("%s(%v) = %s, want success", name, params, r)
	}
	return r
}

// upload posts an avatar.
func (c *client) upload(ctx context.Context, employee int64, data []byte, contentType string) (reply, error) {
	return c.uploadTo(ctx, "employee", employee, data, contentType)
}

// uploadTo uploads an avatar of another owner: entity is its paths' noun
// (employee, tag), and its id parameter entity_id.
func (c *client) uploadTo(ctx context.Context, entity string, id int64, data []byte, contentType string) (reply, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("hash", c.hash)
	mw.WriteField(entity+"_id", strconv.FormatInt(id, 10))
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="photo"`)
	h.Set("Content-Type", contentType)
	w, _ := mw.CreatePart(h)
	w.Write(data)
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api+"/"+entity+"/avatar/upload", &buf)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// staticURL is where a stored avatar is served. The name is the secret,
// so an avatar is served under every owner's path; the crash suite reads
// them through the employees'.
func staticURL(base, name string) string { return base + "/v2/static/employee/avatars/" + name }

// fetchImage GETs a served avatar and decodes it.
func fetchImage(ctx context.Context, hc *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s = %d", u, resp.StatusCode)
	}
	if _, format, err := image.Decode(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("GET %s: %d bytes of %s do not decode: %v", u, len(b), resp.Header.Get("Content-Type"), err)
	} else if want := "image/" + format; resp.Header.Get("Content-Type") != want {
		return fmt.Errorf("GET %s: Content-Type %q for a %s", u, resp.Header.Get("Content-Type"), format)
	}
	return nil
}

// corpus reads an image of the avatar pipeline's test corpus.
func corpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "avatar", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mimeOf is the declared type for a corpus file.
func mimeOf(name string) string {
	switch filepath.Ext(name) {
	case ".jpg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".gif":
		return "image/gif"
	}
	return "application/octet-stream"
}
