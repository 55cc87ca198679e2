package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/roster"
)

// corpus reads an image of the avatar pipeline's test corpus (made with
// real encoders; see internal/avatar/testdata/gen.sh).
func corpus(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "avatar", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// part is one multipart part of an upload.
type part struct {
	name, filename, contentType string
	data                        []byte
}

// uploadRequest builds a multipart upload request from parts, in order.
func uploadRequest(t *testing.T, u string, parts ...part) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", disp)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	req := mustRequest(t, http.MethodPost, u, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

// upload sends an image for an employee, the hash as a part, like the
// seed's multipart upload.
func upload(t *testing.T, api, hash string, employee int64, data []byte, contentType string) result {
	t.Helper()
	return send(t, uploadRequest(t, api+"/employee/avatar/upload",
		part{name: "hash", data: []byte(hash)},
		part{name: "employee_id", data: []byte(strconv.FormatInt(employee, 10))},
		part{name: "file", filename: "photo", contentType: contentType, data: data}))
}

func newEmployee(t *testing.T, api, hash, name string) int64 {
	t.Helper()
	r := ok(t, api, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{"first_name": name}})
	return r.int("id")
}

func readEmployee(t *testing.T, api, hash string, id int64) map[string]any {
	t.Helper()
	r := ok(t, api, "employee/read", map[string]any{"hash": hash, "employee_id": id})
	return r.body["value"].(map[string]any)
}

var storedName = regexp.MustCompile(`^[0-9a-f]{32}\.(jpg|png|gif)$`)

// TestSeedExamples runs the seed page's own examples verbatim, apart from
// host, hash and ids: assign by JSON POST and by HTTP GET, and an upload.
func TestSeedExamples(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, hash := freshServer(t, b)
		id := newEmployee(t, s.api, hash, "Ann")

		// curl -X POST '.../employee/avatar/assign' -H 'Content-Type: application/json'
		//   -d '{"hash": "...", "employee_id": 2132, "icon_id": 3654}'
		body := fmt.Sprintf(`{"hash": "%s", "employee_id": %d, "icon_id": 3654}`, hash, id)
		req := mustRequest(t, http.MethodPost, s.api+"/employee/avatar/assign", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if r := send(t, req); string(r.raw) != `{"success":true}` {
			t.Errorf("assign by JSON POST = %s, want {\"success\":true}", r.raw)
		}
		if got := readEmployee(t, s.api, hash, id)["icon_id"]; got != float64(3654) {
			t.Errorf("icon_id after assign = %v, want 3654", got)
		}

		// GET .../employee/avatar/assign?hash=...&employee_id=2132&icon_id=3654
		r := send(t, mustRequest(t, http.MethodGet, fmt.Sprintf("%s/employee/avatar/assign?hash=%s&employee_id=%d&icon_id=3655", s.api, hash, id), nil))
		if string(r.raw) != `{"success":true}` {
			t.Errorf("assign by GET = %s", r.raw)
		}
		if got := readEmployee(t, s.api, hash, id)["icon_id"]; got != float64(3655) {
			t.Errorf("icon_id after GET assign = %v, want 3655", got)
		}

		// upload: multipart with employee_id and file.
		r = upload(t, s.api, hash, id, corpus(t, "baseline.jpg"), "image/jpeg")
		name, _ := r.body["value"].(string)
		if r.code() != 0 || !strings.HasSuffix(name, ".jpg") || !storedName.MatchString(name) {
			t.Fatalf("upload = %s, want success with a stored .jpg name", r.raw)
		}
		e := readEmployee(t, s.api, hash, id)
		if e["avatar_file_name"] != name || e["icon_id"] != float64(3655) {
			t.Errorf("after upload: avatar_file_name %v icon_id %v, want %s and the icon kept", e["avatar_file_name"], e["icon_id"], name)
		}
		list := ok(t, s.api, "employee/list", map[string]any{"hash": hash})
		if got := list.body["list"].([]any)[0].(map[string]any)["avatar_file_name"]; got != name {
			t.Errorf("employee/list avatar_file_name = %v, want %s", got, name)
		}

		// icon_id null (and absent) shows the upload; the file name stays.
		ok(t, s.api, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": id, "icon_id": nil})
		if e := readEmployee(t, s.api, hash, id); e["icon_id"] != nil || e["avatar_file_name"] != name {
			t.Errorf("after assign null: icon_id %v avatar_file_name %v", e["icon_id"], e["avatar_file_name"])
		}
		ok(t, s.api, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": id, "icon_id": 7})
		ok(t, s.api, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": id})
		if e := readEmployee(t, s.api, hash, id); e["icon_id"] != nil {
			t.Errorf("after assign without icon_id: icon_id %v, want null", e["icon_id"])
		}

		// The stored avatar is served, publicly.
		resp, err := http.Get(s.api + "/static/employee/avatars/" + name)
		if err != nil {
			t.Fatal(err)
		}
		img, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("static avatar = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if _, err := jpeg.Decode(bytes.NewReader(img)); err != nil {
			t.Errorf("served avatar does not decode: %v", err)
		}
	})
}

// TestAvatarErrors: every error of the seed and SPEC §4, with its HTTP
// status, changing nothing.
func TestAvatarErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, hash := freshServer(t, b, "--max-upload-bytes", "200000")
		id := newEmployee(t, s.api, hash, "Ann")
		first := upload(t, s.api, hash, id, corpus(t, "alpha.png"), "image/png")
		name, _ := first.body["value"].(string)
		if first.code() != 0 {
			t.Fatalf("first upload: %s", first.raw)
		}
		big := make([]byte, 300000)
		copy(big, corpus(t, "baseline.jpg"))
		withFile := func(data []byte, ct string) []part {
			return []part{{name: "hash", data: []byte(hash)}, {name: "employee_id", data: []byte(strconv.FormatInt(id, 10))},
				{name: "file", filename: "x", contentType: ct, data: data}}
		}
		cases := []struct {
			name      string
			req       func() *http.Request
			status    int
			code      int
			errorLike string // in errors[0].error
		}{
			{"no such employee", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", part{name: "hash", data: []byte(hash)},
					part{name: "employee_id", data: []byte("999999")}, part{name: "file", filename: "a.png", contentType: "image/png", data: corpus(t, "alpha.png")})
			}, 400, 201, ""},
			{"no file part", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", part{name: "hash", data: []byte(hash)},
					part{name: "employee_id", data: []byte(strconv.FormatInt(id, 10))})
			}, 400, 233, "file"},
			{"declared text/html", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", withFile(corpus(t, "alpha.png"), "text/html")...)
			}, 400, 234, "text/html"},
			{"HTML declared as image/png", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", withFile(corpus(t, "page.html"), "image/png")...)
			}, 400, 234, "not a JPEG, PNG, GIF or WebP"},
			{"SVG declared as image/png", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", withFile(corpus(t, "image.svg"), "image/png")...)
			}, 400, 234, "not a JPEG, PNG, GIF or WebP"},
			{"truncated JPEG", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", withFile(corpus(t, "truncated.jpg"), "image/jpeg")...)
			}, 400, 234, ""},
			{"30000x30000 declared", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", withFile(corpus(t, "huge.png"), "image/png")...)
			}, 400, 234, "30000×30000"},
			{"over the upload limit", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", withFile(big, "image/jpeg")...)
			}, 413, 271, "limit"},
			{"not multipart", func() *http.Request {
				req := mustRequest(t, http.MethodPost, s.api+"/employee/avatar/upload",
					strings.NewReader(fmt.Sprintf(`{"hash":%q,"employee_id":%d}`, hash, id)))
				req.Header.Set("Content-Type", "application/json")
				return req
			}, 400, 5, ""},
			{"GET", func() *http.Request {
				return mustRequest(t, http.MethodGet, fmt.Sprintf("%s/employee/avatar/upload?hash=%s&employee_id=%d", s.api, hash, id), nil)
			}, 400, 5, ""},
			{"bad redirect target", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", append(withFile(corpus(t, "alpha.png"), "image/png"),
					part{name: "redirect_target", data: []byte("javascript:alert(1)")})...)
			}, 400, 7, "redirect_target"},
			{"no hash", func() *http.Request {
				return uploadRequest(t, s.api+"/employee/avatar/upload", withFile(corpus(t, "alpha.png"), "image/png")[1:]...)
			}, 400, 3, ""},
		}
		for _, tc := range cases {
			r := send(t, tc.req())
			if r.status != tc.status || r.code() != tc.code {
				t.Errorf("%s: HTTP %d code %d (%s), want HTTP %d code %d", tc.name, r.status, r.code(), r.raw, tc.status, tc.code)
				continue
			}
			if tc.errorLike != "" && !strings.Contains(string(r.raw), tc.errorLike) {
				t.Errorf("%s: %s, want the errors detail to mention %q", tc.name, r.raw, tc.errorLike)
			}
		}
		if got := readEmployee(t, s.api, hash, id)["avatar_file_name"]; got != name {
			t.Errorf("avatar_file_name after refused uploads = %v, want %s unchanged", got, name)
		}

		// assign: 201 for a missing employee, 7 for a bad icon id.
		for _, tc := range []struct {
			params map[string]any
			code   int
		}{
			{map[string]any{"employee_id": 999999, "icon_id": 1}, 201},
			{map[string]any{"employee_id": id, "icon_id": 0}, 7},
			{map[string]any{"employee_id": id, "icon_id": "three"}, 7},
			{map[string]any{"icon_id": 1}, 7},
		} {
			tc.params["hash"] = hash
			for _, f := range plainForms {
				if r := do(t, s.api, f, "employee/avatar/assign", tc.params); r.code() != tc.code {
					t.Errorf("assign %v as %s = %s, want code %d", tc.params, f, r.raw, tc.code)
				}
			}
		}
	})
}

// TestAvatarOfAnotherAccount: another account's employee does not exist for
// either avatar call, and nothing of it changes.
func TestAvatarOfAnotherAccount(t *testing.T) {
	dir := t.TempDir()
	env := noEnv
	if err := run(t.Context(), []string{"user", "create", "--data", dir, "--login", "other", "--password", "other-pass"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"user", "create", "--data", dir, "--login", "stranger", "--password", "stranger-pass"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, []string{"--data", dir}, nil)
	owner := login(t, s.api, "other", "other-pass")
	id := newEmployee(t, s.api, owner, "Theirs")
	ok(t, s.api, "employee/avatar/assign", map[string]any{"hash": owner, "employee_id": id, "icon_id": 5})
	name := upload(t, s.api, owner, id, corpus(t, "alpha.png"), "image/png").body["value"]

	stranger := login(t, s.api, "stranger", "stranger-pass")
	if r := do(t, s.api, formJSON, "employee/avatar/assign", map[string]any{"hash": stranger, "employee_id": id, "icon_id": 9}); r.code() != 201 || r.status != 400 {
		t.Errorf("assign on another account's employee = %d %s, want 400 and 201", r.status, r.raw)
	}
	if r := upload(t, s.api, stranger, id, corpus(t, "palette.png"), "image/png"); r.code() != 201 {
		t.Errorf("upload to another account's employee = %s, want 201", r.raw)
	}
	e := readEmployee(t, s.api, owner, id)
	if e["icon_id"] != float64(5) || e["avatar_file_name"] != name {
		t.Errorf("after the stranger's calls: icon_id %v avatar_file_name %v, want 5 and %v", e["icon_id"], e["avatar_file_name"], name)
	}
}

// TestRedirectTarget: with redirect_target the answer is a 302 to
// target?response=<JSON>, or &response= when the target has a query, for
// success and errors alike.
func TestRedirectTarget(t *testing.T) {
	s, hash := freshServer(t, backends()[0])
	id := newEmployee(t, s.api, hash, "Ann")
	for _, tc := range []struct {
		name, target, prefix string
		file                 []byte
		code                 int
	}{
		{"success", "https://app.example/done", "https://app.example/done?response=", corpus(t, "alpha.png"), 0},
		{"success, target with query", "https://app.example/done?x=1", "https://app.example/done?x=1&response=", corpus(t, "alpha.png"), 0},
		{"error", "http://app.example/cb", "http://app.example/cb?response=", corpus(t, "page.html"), 234},
	} {
		r := send(t, uploadRequest(t, s.api+"/employee/avatar/upload",
			part{name: "hash", data: []byte(hash)},
			part{name: "employee_id", data: []byte(strconv.FormatInt(id, 10))},
			part{name: "redirect_target", data: []byte(tc.target)},
			part{name: "file", filename: "f", contentType: "image/png", data: tc.file}))
		loc := r.header.Get("Location")
		if r.status != http.StatusFound || !strings.HasPrefix(loc, tc.prefix) {
			t.Errorf("%s: %d Location %q, want 302 to %s...", tc.name, r.status, loc, tc.prefix)
			continue
		}
		resp, err := url.QueryUnescape(strings.TrimPrefix(loc, tc.prefix))
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(resp), &body); err != nil {
			t.Fatalf("%s: response %q is not JSON", tc.name, resp)
		}
		got := result{body: body}
		if got.code() != tc.code {
			t.Errorf("%s: response %s, want code %d", tc.name, resp, tc.code)
		}
	}
}

// TestRedirectTargetRefused: redirect_target sends no one on before the
// caller is known (a stranger's upload link is no open redirect), and text
// that is not UTF-8 is refused with 7 naming it, as a field or in the query.
func TestRedirectTargetRefused(t *testing.T) {
	s, hash := freshServer(t, backends()[0])
	id := newEmployee(t, s.api, hash, "Ann")
	for _, tc := range []struct {
		name, query, hash, target string
		code                      int
		param                     string
	}{
		{"unknown session", "", unknownHash, "https://evil.example/", 4, ""},
		{"malformed hash", "", "not-a-hash", "https://evil.example/", 3, ""},
		{"no hash", "", "", "https://evil.example/", 3, ""},
		{"field not UTF-8", "", hash, "https://app.example/\xff", 7, "redirect_target"},
		{"query not UTF-8", "?redirect_target=https://app.example/%C3", hash, "", 7, "redirect_target"},
		{"query not UTF-8, stranger", "?redirect_target=https://app.example/%C3", unknownHash, "", 7, "redirect_target"},
	} {
		parts := []part{{name: "employee_id", data: []byte(strconv.FormatInt(id, 10))}}
		if tc.hash != "" {
			parts = append(parts, part{name: "hash", data: []byte(tc.hash)})
		}
		if tc.target != "" {
			parts = append(parts, part{name: "redirect_target", data: []byte(tc.target)})
		}
		parts = append(parts, part{name: "file", filename: "f", contentType: "image/png", data: corpus(t, "alpha.png")})
		r := send(t, uploadRequest(t, s.api+"/employee/avatar/upload"+tc.query, parts...))
		if loc := r.header.Get("Location"); r.status == http.StatusFound || loc != "" {
			t.Errorf("%s: %d Location %q, want no redirect", tc.name, r.status, loc)
			continue
		}
		if check(t, tc.name, r, tc.code) && tc.param != "" && !slices.Equal(errorParams(r), []string{tc.param}) {
			t.Errorf("%s: names %v, want [%s]", tc.name, errorParams(r), tc.param)
		}
	}
	if e := readEmployee(t, s.api, hash, id); e["avatar_file_name"] != nil {
		t.Errorf("refused uploads set avatar_file_name %v", e["avatar_file_name"])
	}
}

// TestStaticAvatar: headers, 304, Range, HEAD, renditions and 404s of
// GET {base}/static/employee/avatars/{name}.
func TestStaticAvatar(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, hash := freshServer(t, b)
		id := newEmployee(t, s.api, hash, "Ann")
		r := upload(t, s.api, hash, id, corpus(t, "exif-orient6.jpg"), "image/jpeg")
		name, _ := r.body["value"].(string)
		if r.code() != 0 {
			t.Fatalf("upload: %s", r.raw)
		}
		u := s.api + "/static/employee/avatars/" + name
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		full, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := map[string]string{
			"Content-Type":            "image/jpeg",
			"Content-Length":          strconv.Itoa(len(full)),
			"Cache-Control":           "public, max-age=31536000, immutable",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; sandbox",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || etag == "" {
			t.Fatalf("GET = %d with ETag %q", resp.StatusCode, etag)
		}
		// The stored picture carries none of the upload's metadata.
		for _, marker := range []string{"Exif", "GPS", "http://ns.adobe.com/xap"} {
			if bytes.Contains(full, []byte(marker)) {
				t.Errorf("served avatar contains %q", marker)
			}
		}

		req := mustRequest(t, http.MethodGet, u, nil)
		req.Header.Set("If-None-Match", etag)
		if r := send(t, req); r.status != http.StatusNotModified || len(r.raw) != 0 {
			t.Errorf("If-None-Match: %d with %d bytes, want 304 and no body", r.status, len(r.raw))
		}
		req = mustRequest(t, http.MethodGet, u, nil)
		req.Header.Set("Range", "bytes=10-19")
		if r := send(t, req); r.status != http.StatusPartialContent || !bytes.Equal(r.raw, full[10:20]) {
			t.Errorf("Range bytes=10-19: %d %q, want 206 and the ten bytes", r.status, r.raw)
		}
		// Many tiny ranges would answer many times the file: the whole file instead.
		req = mustRequest(t, http.MethodGet, u, nil)
		req.Header.Set("Range", "bytes=0-0"+strings.Repeat(",1-1", 999))
		if r := send(t, req); r.status != 200 || !bytes.Equal(r.raw, full) {
			t.Errorf("Range of 1,000 one-byte ranges: %d with %d bytes, want 200 and the file's %d", r.status, len(r.raw), len(full))
		}
		if r := send(t, mustRequest(t, http.MethodHead, u, nil)); r.status != 200 || len(r.raw) != 0 ||
			r.header.Get("Content-Length") != strconv.Itoa(len(full)) {
			t.Errorf("HEAD: %d, %d bytes, Content-Length %s", r.status, len(r.raw), r.header.Get("Content-Length"))
		}

		// Renditions: square, at most N, same format, made once.
		for _, size := range []int{32, 128, 512} {
			r := send(t, mustRequest(t, http.MethodGet, u+"?size="+strconv.Itoa(size), nil))
			if r.status != 200 {
				t.Errorf("size=%d: %d", size, r.status)
				continue
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(r.raw))
			if err != nil || format != "jpeg" || cfg.Width != cfg.Height || cfg.Width > size {
				t.Errorf("size=%d: %s %dx%d (%v), want a square jpeg of at most %d", size, format, cfg.Width, cfg.Height, err, size)
			}
			if r.header.Get("ETag") == etag {
				t.Errorf("size=%d has the original's ETag", size)
			}
		}

		notFound := []string{
			strings.Repeat("0", 32) + ".jpg",    // well-formed, not stored
			name[:31] + ".jpg",                  // short
			strings.ToUpper(name[:32]) + ".jpg", // upper case
			name[:32] + ".php",                  // other extension
			"..%2f..%2fetc%2fpasswd",            // traversal
			"%2e%2e",                            // dot-dot
			name[:32] + "-64.jpg",               // a rendition's stored name
			name[:32] + "-64.jpg.webp",          // a WebP variant's stored name
			name + "%00.jpg",                    // NUL
			"",                                  // listing
			name + "?size=100",                  // unknown size
			name + "?size=abc",                  // bad size
			name + "?size=0128",                 // the 128 rendition, made above, under another spelling
			name + "?size=%31%32%38",            // the same, percent-encoded
			name + "?size=%2B128",               // the same, with a sign
			name + "?size=128&size=128",         // the same, twice
		}
		for _, n := range notFound {
			r := send(t, mustRequest(t, http.MethodGet, s.api+"/static/employee/avatars/"+n, nil))
			if r.status != http.StatusNotFound && r.status != http.StatusMovedPermanently {
				t.Errorf("GET avatars/%s = %d, want 404", n, r.status)
			}
			if bytes.Contains(r.raw, []byte("/")) && r.status == http.StatusNotFound {
				t.Errorf("GET avatars/%s: 404 body %q tells more than nothing", n, r.raw)
			}
		}
	})
}

// TestUploadedImageIsCleaned: what is stored looks like the upload (orientation
// applied, animation and transparency kept, scaled to --max-side) and carries
// nothing else.
func TestUploadedImageIsCleaned(t *testing.T) {
	s, hash := freshServer(t, backends()[0], "--max-side", "64")
	id := newEmployee(t, s.api, hash, "Ann")
	fetch := func(name string) []byte {
		r := send(t, mustRequest(t, http.MethodGet, s.api+"/static/employee/avatars/"+name, nil))
		if r.status != 200 {
			t.Fatalf("GET %s = %d", name, r.status)
		}
		return r.raw
	}

	// EXIF orientation 6 on 150×200 pixels: a browser shows the scene turned
	// to 200×150 with the red corner at the top left; so must the stored
	// JPEG, without the tag.
	r := upload(t, s.api, hash, id, corpus(t, "exif-orient6.jpg"), "image/jpeg")
	img, err := jpeg.Decode(bytes.NewReader(fetch(r.body["value"].(string))))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
		t.Errorf("oriented JPEG is %dx%d, want the landscape 64x48", b.Dx(), b.Dy())
	}
	if c := color.RGBAModel.Convert(img.At(2, 2)).(color.RGBA); c.R < 180 || c.G > 90 || c.B > 90 {
		t.Errorf("top-left pixel %v, want the red corner", c)
	}

	// Animated GIF stays animated.
	r = upload(t, s.api, hash, id, corpus(t, "anim.gif"), "image/gif")
	g, err := gif.DecodeAll(bytes.NewReader(fetch(r.body["value"].(string))))
	if err != nil || len(g.Image) < 2 {
		t.Errorf("animated GIF stored with %v frames (%v), want an animation", len(g.Image), err)
	}

	// A PNG with an HTML payload appended: stored without it, alpha kept.
	r = upload(t, s.api, hash, id, corpus(t, "payload.png"), "image/png")
	data := fetch(r.body["value"].(string))
	if bytes.Contains(bytes.ToLower(data), []byte("<html")) || bytes.Contains(data, []byte("<script")) {
		t.Errorf("stored PNG still carries the appended payload")
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Errorf("stored PNG does not decode: %v", err)
	}
	r = upload(t, s.api, hash, id, corpus(t, "alpha.png"), "image/png")
	pimg, err := png.Decode(bytes.NewReader(fetch(r.body["value"].(string))))
	if err != nil {
		t.Fatal(err)
	}
	transparent := false
	for y := pimg.Bounds().Min.Y; y < pimg.Bounds().Max.Y && !transparent; y++ {
		for x := pimg.Bounds().Min.X; x < pimg.Bounds().Max.X; x++ {
			if _, _, _, a := pimg.At(x, y).RGBA(); a < 0xffff {
				transparent = true
				break
			}
		}
	}
	if !transparent {
		t.Errorf("stored PNG lost its transparency")
	}
}

// TestUploadWebP: WebP uploads through the real server, declared as WebP or
// as PNG: the bytes decide, lossless and transparent pictures are stored as
// PNG, lossy opaque ones as JPEG, nothing of the container or its metadata
// is kept, and an animation is refused with 234 and its reason.
func TestUploadWebP(t *testing.T) {
	s, hash := freshServer(t, backends()[0])
	id := newEmployee(t, s.api, hash, "Ann")
	tests := []struct {
		file, declared string
		ext            string // empty: refused with 234
		reason         string
		cut            bool // send the first half of the file only
	}{
		{"lossy.webp", "image/webp", ".jpg", "", false},
		{"lossy.webp", "image/png", ".jpg", "", false},
		{"lossless.webp", "image/webp", ".png", "", false},
		{"alpha.webp", "image/webp", ".png", "", false},
		{"alpha.webp", "image/png", ".png", "", false},
		{"meta.webp", "image/webp", ".jpg", "", false},
		{"anim.webp", "image/webp", "", "animated WebP", false},
		{"anim.webp", "image/png", "", "animated WebP", false},
		{"lossy.webp", "image/webp", "", "truncated or corrupt", true},
		{"lossless.webp", "image/png", "", "truncated or corrupt", true},
	}
	for _, tt := range tests {
		file := corpus(t, tt.file)
		if tt.cut {
			file = file[:len(file)/2]
		}
		r := upload(t, s.api, hash, id, file, tt.declared)
		if tt.ext == "" {
			if r.code() != 234 || !strings.Contains(string(r.raw), tt.reason) {
				t.Errorf("upload(%s as %s) = %s, want 234 saying %q", tt.file, tt.declared, r.raw, tt.reason)
			}
			continue
		}
		name, _ := r.body["value"].(string)
		if !storedName.MatchString(name) || !strings.HasSuffix(name, tt.ext) {
			t.Errorf("upload(%s as %s) = %s, want a stored name ending %s", tt.file, tt.declared, r.raw, tt.ext)
			continue
		}
		got := send(t, mustRequest(t, http.MethodGet, s.api+"/static/employee/avatars/"+name, nil))
		if got.status != 200 {
			t.Fatalf("GET %s = %d", name, got.status)
		}
		var err error
		if tt.ext == ".png" {
			_, err = png.Decode(bytes.NewReader(got.raw))
		} else {
			_, err = jpeg.Decode(bytes.NewReader(got.raw))
		}
		if err != nil {
			t.Errorf("stored %s of %s does not decode: %v", name, tt.file, err)
		}
		for _, m := range []string{"RIFF", "WEBP", "ROSTER", "Exif", "xmpmeta", "ICCP"} {
			if bytes.Contains(got.raw, []byte(m)) {
				t.Errorf("stored %s of %s contains %q", name, tt.file, m)
			}
		}
	}
}

// storeOf opens the file store a server started with args uses.
func storeOf(t *testing.T, args []string) roster.Files {
	t.Helper()
	var st stores
	fs := flag.NewFlagSet("store", flag.ContinueOnError)
	st.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	_, filesURL := st.urls()
	files, err := openFiles(t.Context(), filesURL, st.s3Options(testEnv(nil)))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestWebPVariantsGoWithTheAvatar: a browser gets WebP renditions of a
// photo and any other client the JPEG ones; replacing the avatar, then
// deleting the employee, leaves neither variant of any rendition served or
// stored, on disk and on S3.
func TestWebPVariantsGoWithTheAvatar(t *testing.T) {
	const browser = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
	forEachBackend(t, func(t *testing.T, b backend) {
		args := b.args(t)
		s := startServer(t, args, nil)
		hash := login(t, s.api, "admin", s.admin)
		files := storeOf(t, args)
		id := newEmployee(t, s.api, hash, "Ann")
		get := func(u, accept string) result {
			req := mustRequest(t, http.MethodGet, u, nil)
			req.Header.Set("Accept", accept)
			return send(t, req)
		}
		var names []string
		for _, pic := range []string{"photo-chelsea.jpg", "photo-astronaut.jpg"} {
			r := upload(t, s.api, hash, id, corpus(t, pic), "image/jpeg")
			name, _ := r.body["value"].(string)
			if r.code() != 0 {
				t.Fatalf("upload %s: %s", pic, r.raw)
			}
			names = append(names, name)
			for _, size := range []string{"64", "128", "256"} {
				u := s.api + "/static/employee/avatars/" + name + "?size=" + size
				w, j := get(u, browser), get(u, "")
				if w.status != 200 || w.header.Get("Content-Type") != "image/webp" || j.header.Get("Content-Type") != "image/jpeg" {
					t.Errorf("%s size %s: %d %s for a browser, %s otherwise", pic, size, w.status, w.header.Get("Content-Type"), j.header.Get("Content-Type"))
				}
				if w.header.Get("ETag") == j.header.Get("ETag") || w.header.Get("Vary") != "Accept" || j.header.Get("Vary") != "Accept" {
					t.Errorf("%s size %s: ETags %s and %s, Vary %q and %q", pic, size, w.header.Get("ETag"), j.header.Get("ETag"), w.header.Get("Vary"), j.header.Get("Vary"))
				}
			}
		}
		if n := storedOf(t, files, names[0]); n != 0 {
			t.Errorf("after the replacement the store holds %d files of the old avatar", n)
		}
		if n := storedOf(t, files, names[1]); n != 7 {
			t.Errorf("the store holds %d files of the avatar, want 7 (the original and both variants of three renditions)", n)
		}
		ok(t, s.api, "employee/delete", map[string]any{"hash": hash, "employee_id": id})
		for _, name := range names {
			for _, size := range []string{"64", "128", "256"} {
				for _, accept := range []string{browser, ""} {
					if r := get(s.api+"/static/employee/avatars/"+name+"?size="+size, accept); r.status != http.StatusNotFound {
						t.Errorf("size %s of a gone avatar (Accept %q) = %d, want 404", size, accept, r.status)
					}
				}
			}
			if n := storedOf(t, files, name); n != 0 {
				t.Errorf("after the delete the store holds %d files of %s", n, name)
			}
		}
	})
}

// storedOf counts the stored files whose names start with an avatar's hex.
func storedOf(t *testing.T, files roster.Files, name string) int {
	t.Helper()
	n := 0
	err := files.List(t.Context(), func(stored string, _ time.Time) error {
		if strings.HasPrefix(stored, name[:32]) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
