package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	_ "modernc.org/sqlite"

	"roster/internal/filestest"
	"roster/internal/sqlstore"
	"roster/internal/sqlstore/sqltest"
)

// testImage reads an image of the avatar package's test corpus.
func testImage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "avatar", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// avatarRequest is an avatar upload as a browser form sends it:
// multipart, the hash as a part.
func avatarRequest(api, hash string, employee int64, data []byte, contentType string) (*http.Request, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("hash", hash)
	mw.WriteField("employee_id", strconv.FormatInt(employee, 10))
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="photo"`)
	h.Set("Content-Type", contentType)
	w, err := mw.CreatePart(h)
	if err != nil {
		return nil, err
	}
	w.Write(data)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, api+"/employee/avatar/upload", &buf)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req, nil
}

// postAvatar uploads an avatar and decodes the answer.
func postAvatar(t *testing.T, api, hash string, employee int64, data []byte, contentType string) result {
	t.Helper()
	req, err := avatarRequest(api, hash, employee, data, contentType)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

// getStatic fetches a served avatar; it must be there.
func getStatic(t *testing.T, api, path string) []byte {
	t.Helper()
	r := send(t, mustRequest(t, http.MethodGet, api+"/static/employee/avatars/"+path, nil))
	if r.status != http.StatusOK {
		t.Fatalf("GET avatar %s = %d, want 200", path, r.status)
	}
	return r.raw
}

// copySource is an installation made through the API, stopped, with what
// every later copy of it must answer.
type copySource struct {
	dir       string
	passwords map[string]string // login → password
	hashes    map[string]string // login → a session made before the copy
	masters   []string
	// answers holds, per login and read call, the exact answer.
	answers map[string][]byte
	avatars map[string][]byte // served path → bytes
	// highest ids ever handed out, deleted rows included
	maxEmployee, maxDepartment, maxUser int64
}

var copyReads = []string{"employee/list", "department/list", "tag/list", "user/get_info"}
var copyMasterReads = []string{"subuser/list", "subuser/security_group/list"}

// newCopySource builds an installation on SQLite and a local disk: two
// accounts, each with a security group, a sub-user, departments,
// employees with every field, tags (one with an avatar), uploaded avatars
// (one replaced), renditions, an assigned icon and a deleted employee.
func newCopySource(t *testing.T) *copySource {
	t.Helper()
	src := &copySource{dir: t.TempDir(), passwords: map[string]string{}, hashes: map[string]string{},
		answers: map[string][]byte{}, avatars: map[string][]byte{}}
	s := startServer(t, []string{"--data", src.dir}, nil)
	src.passwords["admin"] = s.admin
	if err := run(t.Context(), []string{"user", "create", "--data", src.dir, "--login", "fleet", "--password", "fleet-secret"},
		noEnv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	src.passwords["fleet"] = "fleet-secret"
	src.masters = []string{"admin", "fleet"}

	images := []struct{ file, typ string }{
		{"baseline.jpg", "image/jpeg"}, {"alpha.png", "image/png"}, {"anim.gif", "image/gif"},
		{"progressive.jpg", "image/pjpeg"}, {"palette.png", "image/png"}, {"gray.jpg", "image/jpeg"},
	}
	for a, master := range src.masters {
		hash := login(t, s.api, master, src.passwords[master])
		group := ok(t, s.api, "subuser/security_group/create", map[string]any{"hash": hash,
			"group": map[string]any{"label": "Dispatch " + master, "privileges": map[string]any{"rights": []string{"employee_update", "tag_update"},
				"store_period": strconv.Itoa(a+2) + "m"}}}).int("id")
		sub := "dispatch." + master + "@example.com"
		src.passwords[sub] = "Sub-pass-" + master + "1"
		id := ok(t, s.api, "subuser/register", map[string]any{"hash": hash, "password": src.passwords[sub],
			"user": with(someDetails(master), map[string]any{"login": sub, "first_name": "Dee", "last_name": "Ispatch", "phone": "4930123456",
				"activated": true, "security_group_id": group})}).int("id")
		src.maxUser = max(src.maxUser, id)
		var depts []int64
		for d, label := range []string{"North", "Süd"} {
			dept := map[string]any{"label": label}
			if d == 0 {
				dept["location"] = map[string]any{"lat": 52.520008, "lng": 13.404954, "address": "Alexanderplatz 1", "radius": 300}
			}
			depts = append(depts, ok(t, s.api, "department/create", map[string]any{"hash": hash, "department": dept}).int("id"))
		}
		src.maxDepartment = max(src.maxDepartment, slices.Max(depts))
		var tags []int64
		for i := range 5 {
			tags = append(tags, ok(t, s.api, "tag/create", map[string]any{"hash": hash,
				"tag": map[string]any{"name": fmt.Sprint("Tag ", i, " of ", master), "color": "00BFFF"}}).int("id"))
		}
		var emps []int64
		for e := range 5 {
			emp := map[string]any{"first_name": fmt.Sprintf("Émile %d", e), "last_name": "Zola", "middle_name": "É",
				"email": fmt.Sprintf("e%d@example.com", e), "phone": "49301234567" + strconv.Itoa(e),
				"driver_license_number": "B072RRE2I55", "driver_license_cats": "B,C1",
				"personnel_number": "P-" + strconv.Itoa(e), "tags": []int64{tags[1], tags[e]}}
			if e%2 == 0 {
				emp["tracker_id"] = 1000*a + e + 1
				emp["driver_license_valid_till"] = "2031-12-31"
				emp["driver_license_issue_date"] = "2016-02-29"
				emp["hardware_key"] = "hk-" + strconv.Itoa(e)
				emp["department_id"] = depts[e%2]
				emp["ssn"] = "078-05-112" + strconv.Itoa(e)
				emp["location"] = map[string]any{"lat": -33.86882, "lng": 151.209296, "address": "Sydney", "radius": 1_000_000 - e}
			}
			emps = append(emps, ok(t, s.api, "employee/create", map[string]any{"hash": hash, "employee": emp}).int("id"))
		}
		src.maxEmployee = max(src.maxEmployee, slices.Max(emps))
		for e, id := range emps {
			img := images[(a*len(emps)+e)%len(images)]
			if r := postAvatar(t, s.api, hash, id, testImage(t, img.file), img.typ); r.code() != 0 {
				t.Fatalf("upload %s = %s", img.file, r.raw)
			}
		}
		// A replaced avatar: its old file is deleted and must not reappear.
		if r := postAvatar(t, s.api, hash, emps[0], testImage(t, "ycck.jpg"), "image/jpeg"); r.code() != 0 {
			t.Fatalf("second upload = %s", r.raw)
		}
		ok(t, s.api, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": emps[1], "icon_id": 3654})
		// A tag's avatar, and a rendition of it, are stored files too.
		r := uploadTagAvatar(t, session{api: s.api, hash: hash}, tags[0], testImage(t, "palette.png"), "image/png")
		tagAvatar, _ := r.body["value"].(string)
		if r.code() != 0 {
			t.Fatalf("tag upload = %s", r.raw)
		}
		src.avatars[tagAvatar] = getStatic(t, s.api, tagAvatar)
		src.avatars[tagAvatar+"?size=64"] = getStatic(t, s.api, tagAvatar+"?size=64")
		ok(t, s.api, "employee/delete", map[string]any{"hash": hash, "employee_id": emps[len(emps)-1]})
		src.hashes[master] = hash
		src.hashes[sub] = login(t, s.api, sub, src.passwords[sub])
	}
	src.maxUser = max(src.maxUser, 2)

	for who, hash := range src.hashes {
		calls := copyReads
		if slices.Contains(src.masters, who) {
			calls = append(slices.Clone(calls), copyMasterReads...)
		}
		for _, call := range calls {
			src.answers[who+" "+call] = ok(t, s.api, call, map[string]any{"hash": hash}).raw
		}
	}
	for _, master := range src.masters {
		var list struct {
			List []struct {
				Avatar *string `json:"avatar_file_name"`
			} `json:"list"`
		}
		r := ok(t, s.api, "employee/list", map[string]any{"hash": src.hashes[master]})
		if err := json.Unmarshal(r.raw, &list); err != nil {
			t.Fatal(err)
		}
		for i, e := range list.List {
			if e.Avatar == nil {
				t.Fatalf("employee %d of %s has no avatar", i, master)
			}
			src.avatars[*e.Avatar] = getStatic(t, s.api, *e.Avatar)
			if i%2 == 0 {
				// A rendition is a stored file too.
				path := *e.Avatar + "?size=64"
				src.avatars[path] = getStatic(t, s.api, path)
			}
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	return src
}

func (src *copySource) dbURL() string    { return "sqlite:" + filepath.Join(src.dir, "roster.db") }
func (src *copySource) filesURL() string { return "file:" + filepath.Join(src.dir, "files") }

// check starts a server on a copy and reads everything back through the
// API: the same answers with the old sessions, sign-in with the old
// passwords, every avatar byte for byte, and fresh ids for new rows.
func (src *copySource) check(t *testing.T, storeArgs []string) {
	t.Helper()
	s := startServer(t, append([]string{"--data", t.TempDir()}, storeArgs...), nil)
	if s.admin != "" {
		t.Errorf("the server on the copy made a new admin: the copy looked empty")
	}
	for key, want := range src.answers {
		who, call, _ := strings.Cut(key, " ")
		r := ok(t, s.api, call, map[string]any{"hash": src.hashes[who]})
		if !bytes.Equal(r.raw, want) {
			t.Errorf("%s as %s on the copy:\n got %s\nwant %s", call, who, r.raw, want)
		}
	}
	for who, password := range src.passwords {
		login(t, s.api, who, password)
	}
	for path, want := range src.avatars {
		if got := getStatic(t, s.api, path); !bytes.Equal(got, want) {
			t.Errorf("avatar %s on the copy: %d bytes differing from the %d served before", path, len(got), len(want))
		}
	}

	hash := src.hashes["admin"]
	if id := ok(t, s.api, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{"first_name": "New"}}).int("id"); id <= src.maxEmployee {
		t.Errorf("new employee on the copy got id %d, want above %d", id, src.maxEmployee)
	}
	if id := ok(t, s.api, "department/create", map[string]any{"hash": hash, "department": map[string]any{"label": "New"}}).int("id"); id <= src.maxDepartment {
		t.Errorf("new department on the copy got id %d, want above %d", id, src.maxDepartment)
	}
	if id := ok(t, s.api, "subuser/register", map[string]any{"hash": hash, "password": "New-pass-1",
		"user": map[string]any{"login": "newcomer@example.com", "activated": true}}).int("id"); id <= src.maxUser {
		t.Errorf("new sub-user on the copy got id %d, want above %d", id, src.maxUser)
	}
	// The old session ends on the copy like any other.
	ok(t, s.api, "user/logout", map[string]any{"hash": src.hashes["fleet"]})
	if r := do(t, s.api, formJSON, "user/get_info", map[string]any{"hash": src.hashes["fleet"]}); r.code() != 4 {
		t.Errorf("get_info after logout on the copy: code %d, want 4", r.code())
	}
}

// cancelOn is an output that cancels a context once a line containing
// marker has been written.
type cancelOn struct {
	marker string
	cancel context.CancelFunc
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

var copySummary = regexp.MustCompile(`copy complete in \S+: \d+ rows, (\d+) files of .* \((\d+) copied, (\d+) already there, (\d+) removed\)`)

// TestCopyCommand copies an installation made through the API to each
// stack, interrupted once in the middle of the files and run again, and
// checks the copy through the API.
func TestCopyCommand(t *testing.T) {
	targets := []struct {
		name  string
		store func(t *testing.T) (db, files string)
	}{
		{"sqlite+disk", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			return "sqlite:" + filepath.Join(dir, "copy.db"), "file:" + filepath.Join(dir, "objects")
		}},
		{"postgres+s3", func(t *testing.T) (string, string) { return sqltest.PostgresURL(t), filestest.S3URL(t) }},
	}
	src := newCopySource(t)
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			toDB, toFiles := target.store(t)
			args := []string{"copy", "--from-db", src.dbURL(), "--from-files", src.filesURL(), "--to-db", toDB, "--to-files", toFiles}

			// Interrupted after the first object copied: one worker, so
			// the rest are still to do.
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			out := &cancelOn{marker: " objects (", cancel: cancel}
			err := run(ctx, append(slices.Clone(args), "--workers", "1"), noEnv, out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "run the same roster copy again") {
				t.Fatalf("interrupted copy = %v, want an error saying to run it again\n%s", err, out.buf.String())
			}
			if !strings.Contains(out.buf.String(), "employees") {
				t.Fatalf("the interruption came before the database was copied:\n%s", out.buf.String())
			}

			var stdout bytes.Buffer
			if err := run(t.Context(), args, noEnv, &stdout, io.Discard); err != nil {
				t.Fatalf("copy again = %v\n%s", err, stdout.String())
			}
			t.Logf("roster copy:\n%s", stdout.String())
			if !strings.Contains(stdout.String(), "resuming the unfinished copy") {
				t.Errorf("the second run did not say it resumed")
			}
			m := copySummary.FindStringSubmatch(stdout.String())
			if m == nil {
				t.Fatalf("no summary in:\n%s", stdout.String())
			}
			files, _ := strconv.Atoi(m[1])
			copied, _ := strconv.Atoi(m[2])
			skipped, _ := strconv.Atoi(m[3])
			if files != len(src.avatars) || skipped < 1 || copied < 1 || copied+skipped != files {
				t.Errorf("summary %q: want %d files, some copied by the first run and the rest by the second", m[0], len(src.avatars))
			}

			// A finished copy is an installation: copying into it again
			// is refused.
			err = run(t.Context(), args, noEnv, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "not empty") {
				t.Errorf("copy into a finished copy = %v, want a not-empty error", err)
			}

			src.check(t, []string{"--db", toDB, "--files", toFiles})
		})
	}
}

func TestCopyCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srcDB, srcFiles := "sqlite:"+filepath.Join(dir, "src", "roster.db"), "file:"+filepath.Join(dir, "src", "files")
	if err := run(t.Context(), []string{"user", "create", "--data", filepath.Join(dir, "src"), "--login", "ops", "--password", "secret-1234"},
		noEnv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "src", "files"), 0o750); err != nil {
		t.Fatal(err)
	}
	// A target database that is an installation of its own.
	usedDB := "sqlite:" + filepath.Join(dir, "used", "roster.db")
	if err := run(t.Context(), []string{"user", "create", "--db", usedDB, "--files", "file:" + filepath.Join(dir, "used", "files"),
		"--login", "x", "--password", "secret-1234"}, noEnv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	// A target file store that holds an object.
	if err := os.MkdirAll(filepath.Join(dir, "full"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "full", "0123456789abcdef0123456789abcdef.png"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	// A source database without users.
	emptyDB := "sqlite:" + filepath.Join(dir, "empty.db")
	db, err := sqlstore.Open(t.Context(), emptyDB)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	toDB := func() string { return "sqlite:" + filepath.Join(t.TempDir(), "to.db") }
	toFiles := func() string { return "file:" + filepath.Join(t.TempDir(), "files") }
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no flags", nil, "needs --from-db, --from-files, --to-db and --to-files"},
		{"no target files", []string{"--from-db", srcDB, "--from-files", srcFiles, "--to-db", toDB()}, "needs"},
		{"bad database URL", []string{"--from-db", "mysql://u:secret@h/db", "--from-files", srcFiles, "--to-db", toDB(), "--to-files", toFiles()}, `--from-db "mysql://u:xxxxx@h/db": want sqlite:<path> or postgres://`},
		{"bad files URL", []string{"--from-db", srcDB, "--from-files", srcFiles, "--to-db", toDB(), "--to-files", "ftp://host/dir"}, `--to-files "ftp://host/dir": want file:<dir> or s3://`},
		{"missing source database", []string{"--from-db", "sqlite:" + filepath.Join(dir, "nope.db"), "--from-files", srcFiles, "--to-db", toDB(), "--to-files", toFiles()}, "--from-db: stat"},
		{"missing source files", []string{"--from-db", srcDB, "--from-files", "file:" + filepath.Join(dir, "nope"), "--to-db", toDB(), "--to-files", toFiles()}, "--from-files: stat"},
		{"same database", []string{"--from-db", srcDB, "--from-files", srcFiles, "--to-db", "sqlite://" + filepath.Join(dir, "src", ".", "roster.db"), "--to-files", toFiles()}, "name the same database"},
		{"same files", []string{"--from-db", srcDB, "--from-files", srcFiles, "--to-db", toDB(), "--to-files", srcFiles + "/"}, "name the same file store"},
		{"source without users", []string{"--from-db", emptyDB, "--from-files", srcFiles, "--to-db", toDB(), "--to-files", toFiles()}, "holds no users"},
		{"target database with data", []string{"--from-db", srcDB, "--from-files", srcFiles, "--to-db", usedDB, "--to-files", toFiles()}, "target database is not empty: it holds 1 users"},
		{"target files with data", []string{"--from-db", srcDB, "--from-files", srcFiles, "--to-db", toDB(), "--to-files", "file:" + filepath.Join(dir, "full")}, "already holds objects (such as 0123456789abcdef0123456789abcdef.png)"},
		{"extra argument", []string{"--from-db", srcDB, "--from-files", srcFiles, "--to-db", toDB(), "--to-files", toFiles(), "now"}, `unexpected argument "now"`},
		{"bad workers", []string{"--from-db", srcDB, "--from-files", srcFiles, "--to-db", toDB(), "--to-files", toFiles(), "--workers", "0"}, "--workers 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(t.Context(), append([]string{"copy"}, tc.args...), noEnv, &stdout, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("roster copy %s = %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
			}
			if strings.Contains(fmt.Sprint(err), "secret") {
				t.Errorf("the error shows a password: %v", err)
			}
		})
	}
	// Nothing was written into the refused target.
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); err == nil {
		t.Errorf("a missing source database was created")
	}
}

// TestServeRefusesUnfinishedCopy: a database that a copy has not finished
// filling is not served.
func TestServeRefusesUnfinishedCopy(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(dir, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// The mark a copy leaves until it finishes.
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE unfinished_copy (started INTEGER)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	err = run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Errorf("serve on an unfinished copy = %v, want a refusal", err)
	}
}

// TestCopyRefusesLiveSource: roster copy refuses a source a server is
// serving, on each stack, copies it with --allow-live-source, and copies
// it plainly once the server has stopped.
func TestCopyRefusesLiveSource(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		args := b.args(t)
		s := startServer(t, args, nil)
		from := storeFlags(args)
		target := func() []string {
			dir := t.TempDir()
			return []string{"--to-db", "sqlite:" + filepath.Join(dir, "to.db"), "--to-files", "file:" + filepath.Join(dir, "files")}
		}
		copyArgs := func(extra ...string) []string {
			return append(append([]string{"copy", "--from-db", from.db, "--from-files", from.files}, target()...), extra...)
		}
		err := run(t.Context(), copyArgs(), noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "in use by a running roster serve") {
			t.Fatalf("copy from a served database = %v, want a refusal", err)
		}
		var stderr bytes.Buffer
		if err := run(t.Context(), copyArgs("--allow-live-source"), noEnv, io.Discard, &stderr); err != nil {
			t.Fatalf("copy --allow-live-source = %v", err)
		}
		if !strings.Contains(stderr.String(), "warning: --from-db") {
			t.Errorf("copy --allow-live-source did not warn: %q", stderr.String())
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		if err := run(t.Context(), copyArgs(), noEnv, io.Discard, io.Discard); err != nil {
			t.Errorf("copy from a stopped server's database = %v", err)
		}
	})
}

// storeFlags reads the database and file store URLs of a backend's flags,
// spelled out the way serve defaults them.
func storeFlags(args []string) (st stores) {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	st.register(fs)
	if err := fs.Parse(args); err != nil {
		panic(err)
	}
	st.db, st.files = st.urls()
	return st
}
