package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestIsStoredName(t *testing.T) {
	hex32 := strings.Repeat("0a", 16)
	cases := []struct {
		name string
		want bool
	}{
		{hex32 + ".jpg", true},
		{hex32 + ".png", true},
		{hex32 + ".gif", true},
		{hex32 + ".jpeg", false},
		{hex32 + ".JPG", false},
		{strings.ToUpper(hex32) + ".jpg", false},
		{hex32[:31] + "g.jpg", false},
		{hex32[:31] + ".jpg", false},
		{hex32 + "-64.jpg", false},
		{"../" + hex32[3:] + ".jpg", false},
		{hex32 + ".jp\x00", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := isStoredName(tc.name); got != tc.want {
			t.Errorf("isStoredName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSizeParam(t *testing.T) {
	cases := []struct {
		raw  string
		size int
		ok   bool
	}{
		{"", 0, true},
		{"size=128", 128, true},
		{"size=32", 32, true},
		{"size=32&", 32, true},
		{"size=64&v", 64, true},
		{"size=+64", 0, false},
		{"size=", 0, false},
		{"size=6a", 0, false},
		{"size=512&v=2", 512, true},
		{"v=2&size=64", 64, true},
		{"v=2", 0, true},
		{"%zz", 0, true},
		{"size=0128", 0, false},
		{"size=%31%32%38", 0, false},
		{"size=+128", 0, false},
		{"size=%2B128", 0, false},
		{"size=128%20", 0, false},
		{"size=128+", 0, false},
		{"size=%20128", 0, false},
		{"size=128&size=128", 0, false},
		{"size=128&size=64", 0, false},
		{"%73ize=128", 0, false},
		{"size=128&%73ize=128", 0, false},
		{"size=128;x=1", 0, false},
		{"size=127", 0, false},
		{"size=-128", 0, false},
		{"size=", 0, false},
		{"size", 0, false},
		{"size=1e2", 0, false},
		{"size=0x80", 0, false},
	}
	for _, tc := range cases {
		if size, ok := sizeParam(tc.raw); size != tc.size || ok != tc.ok {
			t.Errorf("sizeParam(%q) = %d, %v, want %d, %v", tc.raw, size, ok, tc.size, tc.ok)
		}
	}
}

// TestSizeCanonicalOverHTTP: each rendition has one URL; other spellings of
// the size answer 404 even once the rendition is made, and the canonical
// one keeps its ETag.
func TestSizeCanonicalOverHTTP(t *testing.T) {
	f := newFixture(t)
	_, _, name := f.upload(t, readTestImage(t, "alpha.png"))
	status, _, h := f.fetch(t, name+"?size=128", nil)
	if want := `"` + name[:32] + `-128"`; status != 200 || h.Get("ETag") != want {
		t.Fatalf("GET ?size=128 = %d with ETag %s, want 200 and %s", status, h.Get("ETag"), want)
	}
	for _, q := range []string{"size=0128", "size=%31%32%38", "size=+128", "size=%2B128", "size=128%20",
		"size=128&size=128", "size=128&size=64", "%73ize=128"} {
		if status, _, h := f.fetch(t, name+"?"+q, nil); status != 404 {
			t.Errorf("GET ?%s = %d with ETag %q, want 404", q, status, h.Get("ETag"))
		}
	}
	if status, _, h2 := f.fetch(t, name+"?size=128", nil); status != 200 || h2.Get("ETag") != h.Get("ETag") {
		t.Errorf("GET ?size=128 again = %d with ETag %s, want 200 and %s", status, h2.Get("ETag"), h.Get("ETag"))
	}
}

func TestLimitRanges(t *testing.T) {
	many := "bytes=0-0" + strings.Repeat(",1-1", 999)
	cases := []struct {
		rng  string
		kept bool
	}{
		{"", true},
		{"bytes=0-3", true},
		{"bytes=-10", true},
		{"bytes=5-", true},
		{"bytes=0-3,10-20", true},
		{"bytes=0-0,2-2,4-4,6-6", true},
		{"bytes=0-0,2-2,4-4,6-6,8-8", false},
		{many, false},
		{"bytes=0-10,5-15", false},
		{"bytes=10-20,0-5", false},
		{"bytes=0-,10-20", false},
		{"bytes=0-10,-95", false},   // the last 95 of 100 start at 5
		{"bytes=0-10,-50", true},    // the last 50 start at 50
		{"bytes=0-10,x-y", true},    // not understood: left to ServeContent
		{"items=0-1,0-1,0-1", true}, // not bytes: ServeContent ignores it
	}
	for _, tc := range cases {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		if tc.rng != "" {
			r.Header.Set("Range", tc.rng)
		}
		got := limitRanges(r, 100)
		if kept := got.Header.Get("Range") == tc.rng; kept != tc.kept {
			t.Errorf("limitRanges(%.40q, 100) kept the Range: %v, want %v", tc.rng, kept, tc.kept)
		}
		if r.Header.Get("Range") != tc.rng {
			t.Errorf("limitRanges(%.40q, 100) changed the caller's request", tc.rng)
		}
	}
}

// TestRangeNotAmplified: a Range answer is never larger than the file by
// more than a few part headers; many, overlapping or unordered ranges get
// the whole file with 200, from the store and from memory alike.
func TestRangeNotAmplified(t *testing.T) {
	f := newFixture(t)
	_, _, name := f.upload(t, readTestImage(t, "alpha.png"))
	for _, path := range []string{name, name + "?size=64"} {
		_, whole, _ := f.fetch(t, path, nil) // makes the rendition
		for _, from := range []string{"store", "memory"} {
			for _, tc := range []struct {
				rng    string
				status int
			}{
				{"bytes=0-0" + strings.Repeat(",1-1", 999), 200},
				{"bytes=0-10,5-15", 200},
				{"bytes=10-20,0-5", 200},
				{"bytes=0-0,2-2", 206},
				{"bytes=0-3", 206},
			} {
				if from == "store" {
					f.srv.cache.remove(name, renditionName(name, 64))
				}
				status, body, _ := f.fetch(t, path, map[string]string{"Range": tc.rng})
				if status != tc.status || tc.status == 200 && !bytes.Equal(body, whole) || len(body) > len(whole)+512 {
					t.Errorf("GET %s from %s with Range %.30q = %d with %d bytes, want %d and at most the file's %d (+512)",
						path, from, tc.rng, status, len(body), tc.status, len(whole))
				}
			}
		}
	}
}

// TestGraves: a tombstone hides an original and its renditions from get
// and put until goneLife has passed, and there are never more than
// maxGraves of them.
func TestGraves(t *testing.T) {
	c := newFileCache(1<<20, time.Hour)
	c.goneLife = time.Minute
	t0 := time.Now()
	name := strings.Repeat("ab", 16) + ".png"
	c.put(&cachedFile{key: renditionName(name, 64), original: name, data: []byte("x")})
	c.bury(name, t0)
	if f, _ := c.lookup([]byte(renditionName(name, 64)), t0); f != nil {
		t.Errorf("lookup(rendition) after bury = an entry, want none")
	}
	c.put(&cachedFile{key: name, original: name, data: []byte("x")})
	if len(c.entries) != 0 {
		t.Errorf("put after bury added an entry")
	}
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {time.Minute - time.Nanosecond, true}, {time.Minute, false}} {
		if got := c.buried(name, t0.Add(tc.at)); got != tc.want {
			t.Errorf("buried(name, bury time + %v) = %v, want %v", tc.at, got, tc.want)
		}
	}
	// Expired graves go at the next bury; beyond maxGraves the oldest goes.
	c.bury("other.png", t0.Add(2*time.Minute))
	if _, ok := c.gone[name]; ok || len(c.graves) != 1 {
		t.Errorf("after an expired grave and a new bury: %d graves, first kept %v, want 1, false", len(c.graves), ok)
	}
	for i := range maxGraves + 10 {
		c.bury(fmt.Sprintf("%032x.png", i), t0.Add(2*time.Minute))
	}
	if len(c.gone) != maxGraves || len(c.graves) != maxGraves || c.gone["other.png"] != (time.Time{}) {
		t.Errorf("after %d burials: %d tombstones, %d graves, want %d of each and the oldest forgotten", maxGraves+11, len(c.gone), len(c.graves), maxGraves)
	}
}
