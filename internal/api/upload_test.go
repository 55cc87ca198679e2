package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"roster/internal/disk"
	"roster/internal/roster"
	"roster/internal/sqlstore"
)

// faultyFiles is the real disk store with failures switched on per
// operation, to prove what an upload leaves behind when a step fails, and
// an optional hook run before each operation, to delay or block it.
type faultyFiles struct {
	roster.Files
	failPut, failDelete, failGet atomic.Bool
	before                       atomic.Pointer[func(ctx context.Context, op, name string) error]
	afterPut                     atomic.Pointer[func(name string)]
}

var errInjected = errors.New("injected failure")

// hook sets the function run before every Get, Put and Delete; an error it
// returns is the operation's.
func (f *faultyFiles) hook(h func(ctx context.Context, op, name string) error) { f.before.Store(&h) }

func (f *faultyFiles) run(ctx context.Context, op, name string) error {
	if h := f.before.Load(); h != nil {
		return (*h)(ctx, op, name)
	}
	return nil
}

func (f *faultyFiles) Put(ctx context.Context, name string, data []byte) error {
	if f.failPut.Load() {
		return errInjected
	}
	if err := f.run(ctx, "put", name); err != nil {
		return err
	}
	err := f.Files.Put(ctx, name, data)
	if h := f.afterPut.Load(); h != nil && err == nil {
		(*h)(name)
	}
	return err
}

func (f *faultyFiles) Delete(ctx context.Context, name string) error {
	if f.failDelete.Load() {
		return errInjected
	}
	if err := f.run(ctx, "delete", name); err != nil {
		return err
	}
	return f.Files.Delete(ctx, name)
}

func (f *faultyFiles) Get(ctx context.Context, name string) (roster.Object, error) {
	if f.failGet.Load() {
		return nil, errInjected
	}
	if err := f.run(ctx, "get", name); err != nil {
		return nil, err
	}
	return f.Files.Get(ctx, name)
}

// fixture is a server on real SQLite and a real disk store (wrapped to fail
// on demand), signed in as an account's master, with one employee.
type fixture struct {
	srv      *Server
	http     *httptest.Server
	files    *faultyFiles
	dbPath   string
	hash     string
	employee int64
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, Options{})
}

func newFixtureWith(t testing.TB, opts Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := t.Context()
	dbPath := filepath.Join(dir, "roster.db")
	db, err := sqlstore.Open(ctx, "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := disk.Open(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{files: &faultyFiles{Files: store}, dbPath: dbPath}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.srv = NewServer(log, db, f.files, opts)
	f.http = httptest.NewServer(f.srv)
	t.Cleanup(f.http.Close)

	hash, err := roster.HashPassword("password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateMaster(ctx, "master", hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.hash = f.call(t, "user/auth", map[string]any{"login": "master", "password": "password"})["hash"].(string)
	f.employee = int64(f.call(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Ann"}})["id"].(float64))
	return f
}

// call makes a JSON call that must succeed.
func (f *fixture) call(t testing.TB, name string, params map[string]any) map[string]any {
	t.Helper()
	params["hash"] = f.hash
	b, _ := json.Marshal(params)
	resp, err := http.Post(f.http.URL+"/v2/"+name, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	if body["success"] != true {
		t.Fatalf("%s = %v, want success", name, body)
	}
	return body
}

// upload posts an image and returns the HTTP status and Navixy code (0 on
// success) and the stored name.
func (f *fixture) upload(t testing.TB, data []byte) (status, code int, name string) {
	t.Helper()
	return f.uploadFor(t, f.employee, data)
}

// uploadFor is upload for the employee id.
func (f *fixture) uploadFor(t testing.TB, id int64, data []byte) (status, code int, name string) {
	t.Helper()
	return f.uploadTo(t, "employee", id, data)
}

// uploadTo is upload for any owner of avatars: entity is its paths' noun.
func (f *fixture) uploadTo(t testing.TB, entity string, id int64, data []byte) (status, code int, name string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("hash", f.hash)
	mw.WriteField(entity+"_id", strconv.FormatInt(id, 10))
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="photo.png"`}
	h["Content-Type"] = []string{"image/png"}
	pw, _ := mw.CreatePart(h)
	pw.Write(data)
	mw.Close()
	resp, err := http.Post(f.http.URL+"/v2/"+entity+"/avatar/upload", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Success bool
		Value   string
		Status  struct{ Code int }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Status.Code, body.Value
}

// avatarName is the employee's avatar_file_name, "" when null.
func (f *fixture) avatarName(t *testing.T) string {
	t.Helper()
	v := f.call(t, "employee/read", map[string]any{"employee_id": f.employee})["value"].(map[string]any)
	name, _ := v["avatar_file_name"].(string)
	return name
}

// stored lists the names in the file store.
func (f *fixture) stored(t *testing.T) []string {
	t.Helper()
	var names []string
	err := f.files.Files.List(t.Context(), func(name string, _ time.Time) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// served fetches a static avatar and returns its status.
func (f *fixture) served(t *testing.T, name string) int {
	t.Helper()
	resp, err := http.Get(f.http.URL + "/v2/static/employee/avatars/" + name)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func readTestImage(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "avatar", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUploadStoreFailureKeepsPreviousAvatar: a file store that fails gives
// 254; the employee keeps its previous avatar, and that file is still
// served.
func TestUploadStoreFailureKeepsPreviousAvatar(t *testing.T) {
	f := newFixture(t)
	_, code, first := f.upload(t, readTestImage(t, "alpha.png"))
	if code != 0 {
		t.Fatalf("first upload: code %d", code)
	}
	f.files.failPut.Store(true)
	status, code, _ := f.upload(t, readTestImage(t, "palette.png"))
	if status != 500 || code != 254 {
		t.Errorf("upload with a failing store = HTTP %d code %d, want 500 and 254", status, code)
	}
	f.files.failPut.Store(false)
	if got := f.avatarName(t); got != first {
		t.Errorf("avatar_file_name after a failed upload = %q, want the previous %q", got, first)
	}
	if got := f.served(t, first); got != 200 {
		t.Errorf("previous avatar served with %d, want 200", got)
	}
	if got := f.stored(t); len(got) != 1 || got[0] != first {
		t.Errorf("stored after a failed upload = %v, want only %s", got, first)
	}
}

// TestUploadDatabaseFailureLeavesNoReference: when the database fails at the
// commit step, the answer is code 1, the employee keeps its previous avatar,
// and the new file is not left referenced (it is deleted, or swept).
func TestUploadDatabaseFailureLeavesNoReference(t *testing.T) {
	f := newFixture(t)
	_, _, first := f.upload(t, readTestImage(t, "alpha.png"))

	// A real database failure at exactly that step: a trigger that aborts
	// any change of avatar_file_name.
	raw, err := sql.Open("sqlite", "file:"+f.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TRIGGER fail_avatar BEFORE UPDATE OF avatar_file_name ON employees
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	for _, failDelete := range []bool{false, true} {
		f.files.failDelete.Store(failDelete)
		status, code, _ := f.upload(t, readTestImage(t, "palette.png"))
		if status != 500 || code != 1 {
			t.Errorf("upload with a failing database (failDelete=%v) = HTTP %d code %d, want 500 and 1", failDelete, status, code)
		}
	}
	f.files.failDelete.Store(false)
	if got := f.avatarName(t); got != first {
		t.Errorf("avatar_file_name = %q, want the previous %q", got, first)
	}
	if got := f.served(t, first); got != 200 {
		t.Errorf("previous avatar served with %d, want 200", got)
	}
	// The file whose delete failed is unreferenced; the sweep removes it and
	// nothing else.
	if _, err := f.srv.Sweep(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if got := f.stored(t); len(got) != 1 || got[0] != first {
		t.Errorf("stored after the sweep = %v, want only %s", got, first)
	}
}

// TestUploadOldFileDeleteFailure: the previous file cannot be deleted after
// the commit. The upload still succeeds; the old file is unreferenced and the
// sweep removes it, never the new one.
func TestUploadOldFileDeleteFailure(t *testing.T) {
	f := newFixture(t)
	_, _, first := f.upload(t, readTestImage(t, "alpha.png"))
	f.files.failDelete.Store(true)
	_, code, second := f.upload(t, readTestImage(t, "palette.png"))
	f.files.failDelete.Store(false)
	if code != 0 {
		t.Fatalf("upload = code %d, want success", code)
	}
	if got := f.stored(t); len(got) != 2 {
		t.Fatalf("stored = %v, want the old and the new file", got)
	}
	// Young files are spared: they may belong to an upload about to commit.
	if n, err := f.srv.Sweep(t.Context(), time.Hour); err != nil || n != 0 {
		t.Errorf("Sweep(grace 1h) = %d, %v, want 0, nil", n, err)
	}
	if n, err := f.srv.Sweep(t.Context(), 0); err != nil || n != 1 {
		t.Errorf("Sweep(grace 0) = %d, %v, want 1, nil", n, err)
	}
	if got := f.stored(t); len(got) != 1 || got[0] != second {
		t.Errorf("stored after the sweep = %v, want only %s", got, second)
	}
	if f.served(t, first) != 404 || f.served(t, second) != 200 {
		t.Errorf("after the sweep: old served %d (want 404), new served %d (want 200)", f.served(t, first), f.served(t, second))
	}
}

// TestSweepAfterCrash: a crash between writing the file and committing the
// database leaves an unreferenced file (here: put straight into the store).
// The sweep removes it and every rendition of it, and keeps every referenced
// file and its renditions.
func TestSweepAfterCrash(t *testing.T) {
	f := newFixture(t)
	_, _, kept := f.upload(t, readTestImage(t, "alpha.png"))
	resp, err := http.Get(f.http.URL + "/v2/static/employee/avatars/" + kept + "?size=64")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	orphan := "0123456789abcdef0123456789abcdef.png"
	other := "not-an-avatar.txt"
	for _, name := range []string{orphan, renditionName(orphan, 64), other} {
		if err := f.files.Files.Put(t.Context(), name, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.srv.Sweep(t.Context(), 0)
	if err != nil || n != 2 {
		t.Errorf("Sweep = %d, %v, want 2 (the orphan and its rendition)", n, err)
	}
	want := []string{kept, renditionName(kept, 64), other}
	sort.Strings(want)
	got := f.stored(t)
	if !equal(got, want) {
		t.Errorf("stored after the sweep = %v, want %v", got, want)
	}
}

// TestSweepAsksEveryOwner: the sweep keeps what any owner of avatars
// references, a tag's avatar and its renditions as an employee's, and
// deletes what none does. A sweep that asked only employees would delete
// the tag's files here.
func TestSweepAsksEveryOwner(t *testing.T) {
	f := newFixture(t)
	_, _, employee := f.upload(t, readTestImage(t, "alpha.png"))
	tag := int64(f.call(t, "tag/create", map[string]any{"tag": map[string]any{"name": "Night", "color": "000000"}})["id"].(float64))
	_, code, tagged := f.uploadTo(t, "tag", tag, readTestImage(t, "palette.png"))
	if code != 0 {
		t.Fatalf("tag/avatar/upload = code %d", code)
	}
	resp, err := http.Get(f.http.URL + "/v2/static/tag/avatars/" + tagged + "?size=64")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("tag avatar rendition = %d", resp.StatusCode)
	}
	orphan := "0123456789abcdef0123456789abcdef.png"
	if err := f.files.Files.Put(t.Context(), orphan, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := f.srv.Sweep(t.Context(), 0); err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v, want 1 (the orphan)", n, err)
	}
	want := []string{employee, tagged, renditionName(tagged, 64)}
	sort.Strings(want)
	if got := f.stored(t); !equal(got, want) {
		t.Errorf("stored after the sweep = %v, want %v", got, want)
	}
	// Once the tag is deleted nothing references its files.
	f.call(t, "tag/delete", map[string]any{"tag_id": tag})
	if _, err := f.srv.Sweep(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if got := f.stored(t); !equal(got, []string{employee}) {
		t.Errorf("stored after the tag's deletion = %v, want only %s", got, employee)
	}
}

// TestSweepDatabaseFailure: when the database cannot say which files are
// referenced, the sweep fails and deletes nothing.
func TestSweepDatabaseFailure(t *testing.T) {
	f := newFixture(t)
	_, _, kept := f.upload(t, readTestImage(t, "alpha.png"))
	f.srv.db.Close()
	if _, err := f.srv.Sweep(t.Context(), 0); err == nil {
		t.Errorf("Sweep with a closed database succeeded")
	}
	if got := f.stored(t); len(got) != 1 || got[0] != kept {
		t.Errorf("stored after a failed sweep = %v, want %s kept", got, kept)
	}
}

// TestEmployeeDeleteRemovesAvatar: deleting an employee deletes its file.
func TestEmployeeDeleteRemovesAvatar(t *testing.T) {
	f := newFixture(t)
	_, _, name := f.upload(t, readTestImage(t, "alpha.png"))
	f.call(t, "employee/delete", map[string]any{"employee_id": f.employee})
	if got := f.stored(t); len(got) != 0 {
		t.Errorf("stored after employee/delete = %v, want nothing", got)
	}
	if got := f.served(t, name); got != 404 {
		t.Errorf("deleted employee's avatar served with %d, want 404", got)
	}
}

// TestStaticStoreFailure: a store failing on read answers 500, not 404 and
// not a partial body.
func TestStaticStoreFailure(t *testing.T) {
	f := newFixture(t)
	_, _, name := f.upload(t, readTestImage(t, "alpha.png"))
	f.files.failGet.Store(true)
	defer f.files.failGet.Store(false)
	if got := f.served(t, name); got != 500 {
		t.Errorf("avatar from a failing store served with %d, want 500", got)
	}
	if _, err := f.files.Files.Get(t.Context(), name); errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file vanished: %v", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
