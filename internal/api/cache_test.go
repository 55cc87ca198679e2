package api

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// fetch GETs a static avatar with extra headers and returns status, body
// and headers.
func (f *fixture) fetch(t *testing.T, name string, header map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.http.URL+"/v2/static/employee/avatars/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// TestCachedAvatarAnswers: the answers from memory are the answers from the
// store: same bytes and headers, 304, Range.
func TestCachedAvatarAnswers(t *testing.T) {
	f := newFixture(t)
	_, _, name := f.upload(t, readTestImage(t, "alpha.png"))
	status, first, h1 := f.fetch(t, name, nil) // from the store, now cached
	if status != 200 {
		t.Fatalf("first GET = %d", status)
	}
	if e, _ := f.srv.cache.lookup([]byte(name), time.Now()); e == nil {
		t.Fatalf("avatar not cached after a GET")
	}
	status, second, h2 := f.fetch(t, name, nil)
	if status != 200 || string(first) != string(second) {
		t.Errorf("cached GET = %d with %d bytes, want 200 and the same %d bytes", status, len(second), len(first))
	}
	for _, k := range []string{"Content-Type", "Content-Length", "ETag", "Cache-Control", "Last-Modified",
		"X-Content-Type-Options", "Content-Security-Policy", "Cross-Origin-Resource-Policy"} {
		if h1.Get(k) != h2.Get(k) || h2.Get(k) == "" {
			t.Errorf("header %s: from store %q, from memory %q", k, h1.Get(k), h2.Get(k))
		}
	}
	if status, body, _ := f.fetch(t, name, map[string]string{"If-None-Match": `"x", ` + h1.Get("ETag")}); status != 304 || len(body) != 0 {
		t.Errorf("cached If-None-Match = %d with %d bytes, want 304 and none", status, len(body))
	}
	if status, body, _ := f.fetch(t, name, map[string]string{"Range": "bytes=0-3"}); status != 206 || string(body) != string(first[:4]) {
		t.Errorf("cached Range = %d %q, want 206 and the first four bytes", status, body)
	}
	if status, body, _ := f.fetch(t, name, map[string]string{"If-None-Match": `"other"`}); status != 200 || len(body) != len(first) {
		t.Errorf("non-matching If-None-Match = %d, want 200", status)
	}
}

// TestCachedAvatarDeletedElsewhere: a file deleted by another node (here:
// straight from the store) stops being served once its entry is re-checked.
func TestCachedAvatarDeletedElsewhere(t *testing.T) {
	f := newFixture(t)
	_, _, name := f.upload(t, readTestImage(t, "alpha.png"))
	if status, _, _ := f.fetch(t, name, nil); status != 200 {
		t.Fatalf("GET = %d", status)
	}
	if err := f.files.Files.Delete(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	f.srv.cache.recheck = 0
	if status, _, _ := f.fetch(t, name, nil); status != 404 {
		t.Errorf("GET after another node deleted the file = %d, want 404", status)
	}
}

// TestCacheEvictsBySize: the cache holds at most its capacity, dropping the
// least recently used.
func TestCacheEvictsBySize(t *testing.T) {
	c := newFileCache(10, 0)
	for _, k := range []string{"a", "b", "c"} {
		c.put(&cachedFile{key: k, data: []byte("1234")})
	}
	if c.size > 10 || c.entries["a"] != nil || c.entries["c"] == nil {
		t.Errorf("after three 4-byte puts into 10 bytes: size %d, a cached %v, c cached %v; want ≤10, false, true",
			c.size, c.entries["a"] != nil, c.entries["c"] != nil)
	}
	c.remove("b", "c")
	if c.size != 0 || len(c.entries) != 0 {
		t.Errorf("after removing all: size %d, %d entries", c.size, len(c.entries))
	}
}
