package fire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"roster/internal/proctest"
)

// The fault suite: the file store and the database fail under a running
// server. A failed upload answers 254 (file store) or 1 (database) and the
// employee keeps the previous avatar, still served; nothing is half done;
// /readyz reports what is unreachable and recovers with it.

// checkFailure checks that a call failed with the Navixy code and HTTP
// status of the fault.
func checkFailure(what string, r reply, err error, code, status int) error {
	if err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if r.code() != code || r.status != status {
		return fmt.Errorf("%s = %s, want code %d with HTTP %d", what, r, code, status)
	}
	return nil
}

// checkIntact checks that an employee still holds the avatar name and that
// it is served as an image that decodes.
func checkIntact(ctx context.Context, c *client, base string, id int64, name string) error {
	r, err := c.call(ctx, "employee/read", map[string]any{"employee_id": id})
	if err != nil {
		return err
	}
	if r.code() != 0 {
		return fmt.Errorf("employee/read = %s", r)
	}
	got, _ := r.body["value"].(map[string]any)["avatar_file_name"].(string)
	if got != name {
		return fmt.Errorf("employee %d has avatar %q, want the previous %q", id, got, name)
	}
	return fetchImage(ctx, &http.Client{Timeout: 10 * time.Second}, staticURL(base, name))
}

// checkReady checks /readyz: its status, and that it names what failed.
func checkReady(ctx context.Context, base string, status int, names string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.Contains(string(b), names) {
		return fmt.Errorf("readyz = %d %q, want %d naming %q", resp.StatusCode, b, status, names)
	}
	return nil
}

// waitReady polls checkReady until it passes or 15 s pass.
func waitReady(ctx context.Context, base string, status int, names string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := checkReady(ctx, base, status, names)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultFixture is a running server with an employee holding an avatar.
type faultFixture struct {
	st       stack
	p        *proctest.Proc
	c        *client
	employee int64
	avatar   string
	faults   int
}

func newFaultFixture(t *testing.T, st stack, extra ...string) *faultFixture {
	t.Helper()
	ctx := t.Context()
	f := &faultFixture{st: st, p: serve(t, st, extra...)}
	f.c = newClient(f.p.API)
	if err := f.c.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	f.employee = int64(f.c.must(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Ann"}}).body["id"].(float64))
	f.avatar = f.upload(t, "baseline.jpg")
	return f
}

// upload uploads a corpus image that must be stored and returns its name.
func (f *faultFixture) upload(t *testing.T, image string) string {
	t.Helper()
	r, err := f.c.upload(t.Context(), f.employee, corpus(t, image), mimeOf(image))
	if err != nil || r.code() != 0 {
		t.Fatalf("upload = %v %v", r, err)
	}
	return r.body["value"].(string)
}

// failedUpload tries an upload while a fault is on: it must fail with code
// (HTTP status) and leave the previous avatar in place and served — unless
// the store is unreachable, when it cannot be served until it is back.
func (f *faultFixture) failedUpload(t *testing.T, what string, code, status int, storeDown bool) {
	t.Helper()
	ctx := t.Context()
	f.faults++
	r, err := f.c.upload(ctx, f.employee, corpus(t, "alpha.png"), "image/png")
	if err := checkFailure("upload with "+what, r, err, code, status); err != nil {
		t.Error(err)
	}
	err = checkIntact(ctx, f.c, f.p.Base, f.employee, f.avatar)
	if err != nil && !(storeDown && strings.Contains(err.Error(), "= 500")) {
		t.Errorf("with %s: %v", what, err)
	}
}

// recovered checks that uploads work again once the fault is gone, and that
// the previous file went.
func (f *faultFixture) recovered(t *testing.T) {
	t.Helper()
	previous := f.avatar
	f.avatar = f.upload(t, "palette.png")
	if err := checkIntact(t.Context(), f.c, f.p.Base, f.employee, f.avatar); err != nil {
		t.Errorf("after recovery: %v", err)
	}
	resp, err := http.Get(staticURL(f.p.Base, previous))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the replaced avatar %s is still served: %d", previous, resp.StatusCode)
		}
	}
}

// tempFiles lists the temporary files in a disk store.
func tempFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func needRoot(t *testing.T, what string) {
	if os.Geteuid() != 0 {
		t.Skipf("%s needs root (mount, chattr); running as uid %d", what, os.Geteuid())
	}
}

// TestFaultDiskFull: the file store's file system fills up (a 64 KiB
// tmpfs): an upload answers 254, leaves no temporary file, and the
// employee keeps the previous avatar; freeing space makes uploads work.
func TestFaultDiskFull(t *testing.T) {
	needRoot(t, "a full file system")
	st := sqliteStack(t)
	if err := os.MkdirAll(st.files, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", st.files).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", st.files).Run() })
	f := newFaultFixture(t, st)

	filler := filepath.Join(st.files, ".filler")
	fill, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := fill.Write(make([]byte, 1024)); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	fill.Close()
	f.failedUpload(t, "a full disk", 254, http.StatusInternalServerError, false)
	if tmp := tempFiles(st.files); len(tmp) > 0 {
		t.Errorf("a failed put left %v", tmp)
	}
	if err := checkReady(t.Context(), f.p.Base, http.StatusOK, "ok"); err != nil {
		t.Logf("readyz with a full disk: %v", err)
	}
	os.Remove(filler)
	f.recovered(t)
	t.Logf("fault suite, full disk: %d faults injected, answered 254, previous avatar kept and served", f.faults)
}

// TestFaultReadOnlyStore: the store's directory becomes immutable (chattr
// +i, which stops root too): an upload answers 254 and the employee keeps
// the previous avatar; making it writable again makes uploads work.
func TestFaultReadOnlyStore(t *testing.T) {
	needRoot(t, "an immutable directory")
	st := sqliteStack(t)
	f := newFaultFixture(t, st)
	if out, err := exec.Command("chattr", "+i", st.files).CombinedOutput(); err != nil {
		t.Skipf("chattr +i is not available here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", st.files).Run() })
	f.failedUpload(t, "an immutable directory", 254, http.StatusInternalServerError, false)
	if out, err := exec.Command("chattr", "-i", st.files).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v %s", err, out)
	}
	f.recovered(t)
	t.Logf("fault suite, read-only store: %d faults injected, answered 254, previous avatar kept and served", f.faults)
}

// TestFaultStoreReplaced: the store's directory is moved away under the
// server: /readyz answers 503 naming the file store, and 200 again once
// it is back.
func TestFaultStoreReplaced(t *testing.T) {
	st := sqliteStack(t)
	f := newFaultFixture(t, st)
	ctx := t.Context()
	moved := st.files + ".away"
	if err := os.Rename(st.files, moved); err != nil {
		t.Fatal(err)
	}
	f.faults++
	if err := waitReady(ctx, f.p.Base, http.StatusServiceUnavailable, "file store"); err != nil {
		t.Error(err)
	}
	if err := os.Rename(moved, st.files); err != nil {
		t.Fatal(err)
	}
	if err := waitReady(ctx, f.p.Base, http.StatusOK, "ok"); err != nil {
		t.Error(err)
	}
	if err := checkIntact(ctx, f.c, f.p.Base, f.employee, f.avatar); err != nil {
		t.Error(err)
	}
	t.Logf("fault suite, store moved away: readyz 503 naming the file store, 200 once it is back")
}

// TestFaultSQLiteReadOnly: the SQLite files become immutable under the
// server, so every write fails: calls that write answer 1, and an upload
// whose database change fails leaves the previous avatar and no new file
// behind (the stored file is deleted again).
func TestFaultSQLiteReadOnly(t *testing.T) {
	needRoot(t, "an immutable database")
	st := sqliteStack(t)
	f := newFaultFixture(t, st)
	ctx := t.Context()
	before, err := snapshot(ctx, f.c, st)
	if err != nil {
		t.Fatal(err)
	}
	var locked []string
	for _, name := range []string{st.sqlite, st.sqlite + "-wal", st.sqlite + "-shm", st.data} {
		if _, err := os.Stat(name); err != nil {
			continue
		}
		if out, err := exec.Command("chattr", "+i", name).CombinedOutput(); err != nil {
			t.Skipf("chattr +i is not available here: %v %s", err, out)
		}
		locked = append(locked, name)
	}
	unlock := func() {
		for _, name := range locked {
			exec.Command("chattr", "-i", name).Run()
		}
	}
	t.Cleanup(unlock)

	for _, call := range []struct {
		name   string
		params map[string]any
	}{
		{"employee/update", map[string]any{"employee": map[string]any{"id": f.employee, "first_name": "Changed"}}},
		{"employee/create", map[string]any{"employee": map[string]any{"first_name": "New"}}},
		{"employee/avatar/assign", map[string]any{"employee_id": f.employee, "icon_id": 7}},
		{"employee/delete", map[string]any{"employee_id": f.employee}},
		{"department/create", map[string]any{"department": map[string]any{"label": "New"}}},
	} {
		f.faults++
		r, err := f.c.call(ctx, call.name, call.params)
		if err := checkFailure(call.name+" with a read-only database", r, err, 1, http.StatusInternalServerError); err != nil {
			t.Error(err)
		}
	}
	f.failedUpload(t, "a read-only database", 1, http.StatusInternalServerError, false)
	if err := checkReady(ctx, f.p.Base, http.StatusOK, "ok"); err != nil {
		t.Logf("readyz with a read-only database: %v", err)
	} else {
		t.Logf("readyz with a read-only database: 200 (reads still work; Ping does not write)")
	}
	unlock()
	after, err := snapshot(ctx, f.c, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkUnchanged(before, after); err != nil {
		t.Errorf("failed writes changed something: %v", err)
	}
	f.recovered(t)
	t.Logf("fault suite, read-only SQLite: %d faults injected, answered 1, nothing half done", f.faults)
}

// proxy is a TCP proxy the test can cut, to take a server's PostgreSQL or
// S3 endpoint down and bring it back.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// setDown cuts every connection and refuses new ones, or lets them through.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

// TestFaultEndpointsDown: PostgreSQL and S3 behind proxies that the test
// cuts. With S3 down an upload answers 254 and the previous avatar stays;
// with PostgreSQL down calls answer 1 and nothing changes; /readyz names
// what is down and recovers with it.
func TestFaultEndpointsDown(t *testing.T) {
	base := postgresStack(t)
	ctx := t.Context()
	pgURL, _ := url.Parse(base.dbURL)
	pg := newProxy(t, pgURL.Host)
	pgURL.Host = pg.addr()
	s3URL, _ := url.Parse(base.filesURL)
	q := s3URL.Query()
	endpoint, _ := url.Parse(q.Get("endpoint"))
	s3 := newProxy(t, endpoint.Host)
	endpoint.Host = s3.addr()
	q.Set("endpoint", endpoint.String())
	s3URL.RawQuery = q.Encode()
	st := stack{name: "postgres+s3 via proxies", data: base.data, dbURL: pgURL.String(), filesURL: s3URL.String(),
		args: []string{"--data", base.data, "--db", pgURL.String(), "--files", s3URL.String()}}
	f := newFaultFixture(t, st)

	// S3 down.
	s3.setDown(true)
	f.failedUpload(t, "S3 down", 254, http.StatusInternalServerError, true)
	if err := waitReady(ctx, f.p.Base, http.StatusServiceUnavailable, "file store"); err != nil {
		t.Error(err)
	}
	s3.setDown(false)
	if err := waitReady(ctx, f.p.Base, http.StatusOK, "ok"); err != nil {
		t.Error(err)
	}
	if err := checkIntact(ctx, f.c, f.p.Base, f.employee, f.avatar); err != nil {
		t.Errorf("after S3 came back: %v", err)
	}
	f.recovered(t)

	// PostgreSQL down.
	before, err := snapshot(ctx, f.c, st)
	if err != nil {
		t.Fatal(err)
	}
	pg.setDown(true)
	for _, call := range []struct {
		name   string
		params map[string]any
	}{
		{"employee/update", map[string]any{"employee": map[string]any{"id": f.employee, "first_name": "Changed"}}},
		{"employee/avatar/assign", map[string]any{"employee_id": f.employee, "icon_id": 7}},
		{"employee/delete", map[string]any{"employee_id": f.employee}},
		{"employee/list", map[string]any{}},
	} {
		f.faults++
		r, err := f.c.call(ctx, call.name, call.params)
		if err := checkFailure(call.name+" with PostgreSQL down", r, err, 1, http.StatusInternalServerError); err != nil {
			t.Error(err)
		}
	}
	f.faults++
	r, err := f.c.upload(ctx, f.employee, corpus(t, "alpha.png"), "image/png")
	if err := checkFailure("upload with PostgreSQL down", r, err, 1, http.StatusInternalServerError); err != nil {
		t.Error(err)
	}
	if err := waitReady(ctx, f.p.Base, http.StatusServiceUnavailable, "database"); err != nil {
		t.Error(err)
	}
	pg.setDown(false)
	if err := waitReady(ctx, f.p.Base, http.StatusOK, "ok"); err != nil {
		t.Error(err)
	}
	after, err := snapshot(ctx, f.c, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkUnchanged(before, after); err != nil {
		t.Errorf("calls refused with PostgreSQL down changed something: %v", err)
	}
	if err := checkIntact(ctx, f.c, f.p.Base, f.employee, f.avatar); err != nil {
		t.Errorf("after PostgreSQL came back: %v", err)
	}
	f.recovered(t)
	t.Logf("fault suite, endpoints down: %d faults injected (S3 and PostgreSQL cut), answered 254 and 1, readyz 503 and back, nothing half done", f.faults)
}

// TestFaultCheckersCatch shows the fault checkers failing: an upload that
// succeeded where it should have failed, an avatar that changed, and a
// readyz that does not report.
func TestFaultCheckersCatch(t *testing.T) {
	st := sqliteStack(t)
	f := newFaultFixture(t, st)
	ctx := t.Context()
	r, err := f.c.upload(ctx, f.employee, corpus(t, "alpha.png"), "image/png")
	if err := checkFailure("upload", r, err, 254, 500); err == nil {
		t.Errorf("checkFailure of a successful upload = nil, want an error")
	}
	if err := checkIntact(ctx, f.c, f.p.Base, f.employee, f.avatar); err == nil || !strings.Contains(err.Error(), f.avatar) {
		t.Errorf("checkIntact after the avatar changed = %v, want the previous name shown", err)
	}
	if err := checkReady(ctx, f.p.Base, http.StatusServiceUnavailable, "file store"); err == nil {
		t.Errorf("checkReady of a healthy server wanting 503 = nil, want an error")
	}
	if err := checkUnchanged("files: [a]\n", "files: [a b]\n"); err == nil {
		t.Errorf("checkUnchanged of a grown store = nil, want an error")
	}
}
