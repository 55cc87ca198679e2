package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so benchmarks measure the
// handler and not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkStaticAvatarCached: the hot path of a static avatar served from
// memory, through the whole server (logging, metrics, routing).
func BenchmarkStaticAvatarCached(b *testing.B) {
	f := newFixture(b)
	_, _, name := f.upload(b, readTestImage(b, "alpha.png"))
	req := httptest.NewRequest(http.MethodGet, "/v2/static/employee/avatars/"+name, nil)
	w := &discard{h: http.Header{}}
	f.srv.ServeHTTP(w, req) // fill the cache
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		f.srv.ServeHTTP(w, req)
	}
}
