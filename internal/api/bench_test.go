package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so benchmarks measure the
// handler and not a recorder.
// discard is a ResponseWriter that keeps the headers and the first body
// written, and drops the rest.
type discard struct {
	h    http.Header
	body []byte
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) Write(b []byte) (int, error) {
	if d.body == nil {
		d.body = bytes.Clone(b)
	}
	return len(b), nil
}
func (d *discard) WriteHeader(int) {}

// BenchmarkStaticAvatarCached: the hot path of a static avatar served from
// memory, through the whole server (logging, metrics, routing).
func BenchmarkStaticAvatarCached(b *testing.B) {
	f := newFixture(b)
	_, _, name := f.upload(b, readTestImage(b, "photo-coffee.jpg"))
	cases := []struct{ name, query, accept string }{
		{"original", "", browserAccept},
		{"size=128 JPEG", "?size=128", "*/*"},
		{"size=128 WebP", "?size=128", browserAccept},
	}
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodGet, "/v2/static/employee/avatars/"+name+tc.query, nil)
		req.Header.Set("Accept", tc.accept)
		w := &discard{h: http.Header{}}
		f.srv.ServeHTTP(w, req) // fill the cache
		header, body := w.h.Clone(), w.body
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				f.srv.ServeHTTP(w, req)
			}
		})
		// The floor: the same bytes and headers from memory, nothing else.
		b.Run(tc.name+" floor", func(b *testing.B) {
			floor := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				copyHeader(w.Header(), header)
				w.WriteHeader(http.StatusOK)
				w.Write(body)
			})
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				floor.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkStaticAvatarCachedParallel: the WebP rendition's hot path from
// every core at once (b.RunParallel), beside its floor: what the server's
// shared state (the cache's lock, the request counters, the request ids)
// costs when cores answer at the same time. ns/op is wall time per request
// over all cores; times GOMAXPROCS, CPU per request.
func BenchmarkStaticAvatarCachedParallel(b *testing.B) {
	f := newFixture(b)
	_, _, name := f.upload(b, readTestImage(b, "photo-coffee.jpg"))
	req := httptest.NewRequest(http.MethodGet, "/v2/static/employee/avatars/"+name+"?size=128", nil)
	req.Header.Set("Accept", browserAccept)
	w := &discard{h: http.Header{}}
	f.srv.ServeHTTP(w, req) // fill the cache
	header, body := w.h.Clone(), w.body
	b.Run("size=128 WebP", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			w := &discard{h: http.Header{}}
			for pb.Next() {
				clear(w.h)
				f.srv.ServeHTTP(w, req)
			}
		})
	})
	b.Run("size=128 WebP floor", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			w := &discard{h: http.Header{}}
			for pb.Next() {
				clear(w.h)
				copyHeader(w.Header(), header)
				w.WriteHeader(http.StatusOK)
				w.Write(body)
			}
		})
	})
}

// BenchmarkDecodeParams: reading an employee/update's parameters as the
// handler does (decoding, then every field's rules), in the three forms
// clients send them.
func BenchmarkDecodeParams(b *testing.B) {
	employee := `{"id":17,"first_name":"Ann","middle_name":"","last_name":"Lee",` +
		`"email":"ann@example.com","phone":"4915112345678","driver_license_number":"DL1",` +
		`"driver_license_cats":"B,C","driver_license_valid_till":"2030-01-31","hardware_key":null,` +
		`"department_id":null,"location":{"lat":52.5,"lng":13.4,"address":"Berlin"},` +
		`"personnel_number":"P1","tags":[1,2,3]}`
	hash := strings.Repeat("a", 32)
	form := url.Values{"hash": {hash}, "employee": {employee}}.Encode()
	cases := []struct {
		name, method, contentType, query, body string
	}{
		{"query", http.MethodGet, "", "?" + form, ""},
		{"form", http.MethodPost, "application/x-www-form-urlencoded", "", form},
		{"json", http.MethodPost, "application/json", "", `{"hash":"` + hash + `","employee":` + employee + `}`},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest(tc.method, "/v2/employee/update"+tc.query, nil)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			body := strings.NewReader(tc.body)
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(tc.body)
				r.Body = io.NopCloser(body)
				p, err := decodeParams(r, 0, false, readHooks{})
				if err != nil {
					b.Fatal(err)
				}
				if e, err := readEmployee(p, true); err != nil || e.ID != 17 || len(e.Tags) != 3 {
					b.Fatalf("readEmployee = %+v, %v", e, err)
				}
			}
		})
	}
}

// BenchmarkCall: whole API calls through the server in process (session
// lookup, the call's own queries on SQLite, the answer), without the
// network and with the request log discarded: employee/read,
// employee/list of 100 and employee/avatar/assign.
func BenchmarkCall(b *testing.B) {
	f := newFixtureWith(b, Options{RateLimit: -1})
	for i := range 99 {
		f.call(b, "employee/create", map[string]any{"employee": map[string]any{"first_name": fmt.Sprint("E", i)}})
	}
	id := fmt.Sprint(f.employee)
	cases := []struct {
		name, method, path, body string
		want                     int // bytes of the answer at least
	}{
		{"read", http.MethodGet, "/v2/employee/read?hash=" + f.hash + "&employee_id=" + id, "", 200},
		{"list100", http.MethodGet, "/v2/employee/list?hash=" + f.hash, "", 100 * 300},
		{"assign", http.MethodPost, "/v2/employee/avatar/assign",
			`{"hash":"` + f.hash + `","employee_id":` + id + `,"icon_id":3654}`, 16},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			w := &counter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
				if tc.body != "" {
					r.Header.Set("Content-Type", "application/json")
				}
				clear(w.h)
				w.body.Reset()
				f.srv.ServeHTTP(w, r)
				if !bytes.HasPrefix(w.body.Bytes(), []byte(`{"success":true`)) || w.body.Len() < tc.want {
					b.Fatalf("%s answered %.200s", tc.name, w.body.Bytes())
				}
			}
		})
	}
}

// counter is a ResponseWriter that keeps the answer in a reused buffer.
type counter struct {
	h    http.Header
	body bytes.Buffer
}

func (c *counter) Header() http.Header         { return c.h }
func (c *counter) Write(b []byte) (int, error) { return c.body.Write(b) }
func (c *counter) WriteHeader(int)             {}
