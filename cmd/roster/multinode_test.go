package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/filestest"
	"roster/internal/s3"
	"roster/internal/sqlstore/sqltest"
)

// TestMultiNode runs two servers on one PostgreSQL schema and one S3
// bucket, as behind a load balancer: whatever one node does, the other
// sees at once.
func TestMultiNode(t *testing.T) {
	pg := sqltest.PostgresURL(t)
	bucket := filestest.S3URL(t)
	env := map[string]string{"ROSTER_ADMIN_PASSWORD": "multi-node-pass"}
	stores := []string{"--db", pg, "--files", bucket}
	a := startServer(t, append([]string{"--data", t.TempDir()}, stores...), env)
	b := startServer(t, append([]string{"--data", t.TempDir()}, stores...), env)
	if a.base == b.base {
		t.Fatalf("both nodes listen on %s", a.base)
	}
	nodes := []*server{a, b}

	// A session made on A works on B, and a logout on B ends it on A.
	hash := login(t, a.api, "admin", "multi-node-pass")
	ok(t, b.api, "user/get_info", map[string]any{"hash": hash})
	// A has used the session before B ends it: nothing A remembers of it
	// may outlive the logout.
	other := login(t, b.api, "admin", "multi-node-pass")
	ok(t, a.api, "user/get_info", map[string]any{"hash": other})
	ok(t, a.api, "employee/list", map[string]any{"hash": other})
	ok(t, b.api, "user/logout", map[string]any{"hash": other})
	if r := do(t, a.api, formJSON, "user/get_info", map[string]any{"hash": other}); r.code() != 4 {
		t.Errorf("a session ended on B still works on A: %s", r.raw)
	}

	// An upload through A is listed and served by B.
	emp := ok(t, a.api, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{"first_name": "Ann"}}).int("id")
	up := postAvatar(t, a.api, hash, emp, testImage(t, "alpha.png"), "image/png")
	name, _ := up.body["value"].(string)
	if up.code() != 0 || name == "" {
		t.Fatalf("upload on A = %s", up.raw)
	}
	listed := ok(t, b.api, "employee/list", map[string]any{"hash": hash})
	if !strings.Contains(string(listed.raw), `"avatar_file_name":"`+name+`"`) {
		t.Errorf("B lists %s, want the avatar %s uploaded on A", listed.raw, name)
	}
	// Only B fetches it: A keeps no copy in its memory cache.
	if served := getStatic(t, b.api, name); len(served) == 0 || !bytes.HasPrefix(served, []byte("\x89PNG")) {
		t.Errorf("B serves %d bytes for %s, want the PNG uploaded on A", len(served), name)
	}

	// An assign on B is read on A.
	ok(t, b.api, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": emp, "icon_id": 42})
	read := ok(t, a.api, "employee/read", map[string]any{"hash": hash, "employee_id": emp})
	if v, _ := read.body["value"].(map[string]any); v["icon_id"] != float64(42) {
		t.Errorf("A reads %s after an assign of 42 on B", read.raw)
	}

	// 50 uploads to one employee at once, over both nodes. Each replaces
	// the previous avatar and deletes its file before answering, so once
	// all have answered the bucket holds exactly the one the employee
	// points at.
	const uploads = 50
	images := []struct{ file, typ string }{{"baseline.jpg", "image/jpeg"}, {"alpha.png", "image/png"}, {"anim.gif", "image/gif"}}
	data := make([][]byte, len(images))
	for i, img := range images {
		data[i] = testImage(t, img.file)
	}
	codes := make([]int, uploads)
	errs := make([]error, uploads)
	var wg sync.WaitGroup
	for i := range uploads {
		wg.Go(func() {
			img := i % len(images)
			codes[i], errs[i] = tryUpload(nodes[i%2].api, hash, emp, data[img], images[img].typ)
		})
	}
	wg.Wait()
	succeeded := 0
	for i := range uploads {
		switch {
		case errs[i] != nil:
			t.Errorf("upload %d through node %d: %v", i, i%2, errs[i])
		case codes[i] == 0:
			succeeded++
		case codes[i] != 15: // the documented rate limit
			t.Errorf("upload %d through node %d answered code %d", i, i%2, codes[i])
		}
	}
	if succeeded == 0 {
		t.Fatalf("no upload succeeded")
	}
	var current string
	for i, n := range nodes {
		r := ok(t, n.api, "employee/read", map[string]any{"hash": hash, "employee_id": emp})
		v, _ := r.body["value"].(map[string]any)
		s, _ := v["avatar_file_name"].(string)
		if i > 0 && s != current {
			t.Fatalf("the nodes disagree on the avatar: %q and %q", current, s)
		}
		current = s
	}
	if stored := bucketNames(t, bucket); !slices.Equal(stored, []string{current}) {
		t.Errorf("after %d uploads (%d succeeded) the bucket holds %d objects %v, want only the current avatar %s",
			uploads, succeeded, len(stored), stored, current)
	}
	if !bytes.Equal(getStatic(t, a.api, current), getStatic(t, b.api, current)) {
		t.Errorf("A and B serve different bytes for %s", current)
	}
	// The replaced first avatar is gone from the store. B served it
	// before and may keep serving it from memory until its cache checks
	// the store again; A never held it.
	if r := send(t, mustRequest(t, http.MethodGet, a.api+"/static/employee/avatars/"+name, nil)); r.status != http.StatusNotFound {
		t.Errorf("the first avatar %s, replaced since, answers %d on A, want 404", name, r.status)
	}

	// Neither node logged a failure.
	for i, n := range nodes {
		for _, line := range strings.Split(n.stderr.String(), "\n") {
			if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") {
				t.Errorf("node %d logged: %s", i, line)
			}
		}
	}
}

// tryUpload uploads an avatar from any goroutine, returning the Navixy
// code of the answer (0 for success).
func tryUpload(api, hash string, employee int64, data []byte, contentType string) (int, error) {
	req, err := avatarRequest(api, hash, employee, data, contentType)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var body struct {
		Success bool
		Status  struct{ Code int }
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return 0, fmt.Errorf("answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	if body.Success {
		return 0, nil
	}
	return body.Status.Code, nil
}

// bucketNames lists the objects of the bucket, sorted.
func bucketNames(t *testing.T, rawURL string) []string {
	t.Helper()
	store, err := s3.Open(t.Context(), rawURL, s3.Options{Credentials: s3.CredentialsFrom(os.Getenv)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var names []string
	err = store.List(t.Context(), func(name string, _ time.Time) error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}
