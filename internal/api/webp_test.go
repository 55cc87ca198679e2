package api

import (
	"bytes"
	"fmt"
	"image/gif"
	"image/png"
	"io"
	"net/http"
	"testing"

	"roster/internal/avatar"
	"roster/internal/avatar/avatartest"
)

// browserAccept is what Chromium sends for an <img>.
const browserAccept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"

// getWith asks for path with the headers given as name, value pairs.
func getWith(t *testing.T, method, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestAcceptsWebP(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{browserAccept, true},
		{"image/webp", true},
		{"IMAGE/WEBP;q=0.5", true},
		{"image/webp;q=0", false},
		{"image/webp;q=0.0, image/png", false},
		{"image/webp;q=x", false},
		{"*/*", false},
		{"image/*", false},
		{"", false},
		{"image/png, image/jpeg", false},
		{"image/webpx", false},
	}
	var memo acceptMemo
	for _, tt := range tests {
		if got := acceptsWebP(tt.accept); got != tt.want {
			t.Errorf("acceptsWebP(%q) = %v, want %v", tt.accept, got, tt.want)
		}
		// The memo gives the same answer, remembered or not, whatever
		// header came before.
		for range 2 {
			if got := memo.webp(tt.accept); got != tt.want {
				t.Errorf("acceptMemo.webp(%q) = %v, want %v", tt.accept, got, tt.want)
			}
		}
	}
}

// TestRenditionNegotiation: a photo's list-sized renditions answer WebP to a
// browser and the stored JPEG, byte for byte as before, to any other
// client; every rendition answer varies by Accept, each variant has its
// own ETag, and a validator of one never answers 304 for the other.
func TestRenditionNegotiation(t *testing.T) {
	if !avatar.WebPSandboxed() {
		t.Skip("a system libwebp is loaded; no WebP variants are made")
	}
	f := newFixture(t)
	photo := readTestImage(t, "photo-coffee.jpg")
	_, code, name := f.upload(t, photo)
	if code != 0 {
		t.Fatalf("upload = code %d", code)
	}
	base := f.http.URL + "/v2/static/employee/avatars/" + name
	for _, size := range []int{64, 128, 256} {
		url := fmt.Sprintf("%s?size=%d", base, size)
		// Made in either order, the variants are the same.
		first, second := []string{"Accept", browserAccept}, []string{}
		if size == 128 {
			first, second = second, first
		}
		a, abody := getWith(t, "GET", url, first...)
		b, bbody := getWith(t, "GET", url, second...)
		wp, wbody, jp, jbody := a, abody, b, bbody
		if size == 128 {
			wp, wbody, jp, jbody = b, bbody, a, abody
		}
		if wp.StatusCode != 200 || jp.StatusCode != 200 {
			t.Fatalf("size %d: statuses %d and %d", size, wp.StatusCode, jp.StatusCode)
		}
		if ct := wp.Header.Get("Content-Type"); ct != "image/webp" || !avatar.IsWebP(wbody) {
			t.Errorf("size %d with a browser's Accept: Content-Type %q, WebP bytes %v", size, ct, avatar.IsWebP(wbody))
		}
		if ct := jp.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Errorf("size %d without WebP in Accept: Content-Type %q, want image/jpeg", size, ct)
		}
		want, err := avatar.Rendition(mustGet(t, base), size)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(jbody, want.Data) {
			t.Errorf("size %d without WebP in Accept: %d bytes, not the rendition as made before (%d bytes)", size, len(jbody), len(want.Data))
		}
		if len(wbody) >= len(jbody) {
			t.Errorf("size %d: WebP %d bytes, JPEG %d", size, len(wbody), len(jbody))
		}
		for _, r := range []*http.Response{wp, jp} {
			if v := r.Header.Get("Vary"); v != "Accept" {
				t.Errorf("size %d: Vary %q, want Accept", size, v)
			}
			for _, h := range []string{"Cache-Control", "X-Content-Type-Options", "Content-Security-Policy"} {
				if r.Header.Get(h) == "" {
					t.Errorf("size %d: no %s", size, h)
				}
			}
		}
		we, je := wp.Header.Get("ETag"), jp.Header.Get("ETag")
		if we == "" || we == je {
			t.Fatalf("size %d: ETags %q and %q, want two different ones", size, we, je)
		}
		for _, tt := range []struct {
			accept, inm string
			status      int
		}{
			{browserAccept, we, 304},
			{"", je, 304},
			{browserAccept, je, 200},
			{"", we, 200},
		} {
			r, _ := getWith(t, "GET", url, "Accept", tt.accept, "If-None-Match", tt.inm)
			if r.StatusCode != tt.status {
				t.Errorf("size %d, Accept %q, If-None-Match %s: %d, want %d", size, tt.accept, tt.inm, r.StatusCode, tt.status)
			}
		}
		h, hbody := getWith(t, "HEAD", url, "Accept", browserAccept)
		if h.StatusCode != 200 || len(hbody) != 0 || h.Header.Get("Content-Length") != fmt.Sprint(len(wbody)) {
			t.Errorf("size %d: HEAD = %d, %d body bytes, Content-Length %s", size, h.StatusCode, len(hbody), h.Header.Get("Content-Length"))
		}
		rg, rbody := getWith(t, "GET", url, "Accept", browserAccept, "Range", "bytes=0-11")
		if rg.StatusCode != 206 || !bytes.Equal(rbody, wbody[:12]) {
			t.Errorf("size %d: Range = %d, %q", size, rg.StatusCode, rbody)
		}
	}
	// The original keeps its stored format whatever the client accepts, and
	// a size without a WebP variant answers the stored format, still
	// varying by Accept.
	o, obody := getWith(t, "GET", base, "Accept", browserAccept)
	if o.Header.Get("Content-Type") != "image/jpeg" || !bytes.Equal(obody, mustGet(t, base)) || o.Header.Get("Vary") != "" {
		t.Errorf("original with a browser's Accept: %s, Vary %q", o.Header.Get("Content-Type"), o.Header.Get("Vary"))
	}
	big, _ := getWith(t, "GET", base+"?size=512", "Accept", browserAccept)
	if big.Header.Get("Content-Type") != "image/jpeg" || big.Header.Get("Vary") != "Accept" {
		t.Errorf("size 512 with a browser's Accept: %s, Vary %q", big.Header.Get("Content-Type"), big.Header.Get("Vary"))
	}
}

// TestRenditionNegotiationKeepsSmallerStored: when WebP would not be
// smaller (random noise), a browser gets the stored PNG rendition, with
// its own type and Vary: Accept; an animated GIF's renditions stay animated
// GIFs for every client; a transparent PNG's is WebP only for a browser.
func TestRenditionNegotiationKeepsSmallerStored(t *testing.T) {
	if !avatar.WebPSandboxed() {
		t.Skip("a system libwebp is loaded; no WebP variants are made")
	}
	f := newFixture(t)
	var noise bytes.Buffer
	if err := png.Encode(&noise, avatartest.Noise(48, 48, 2)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file, mime string
		data       []byte
		size       int
	}{
		{"noise", "image/png", noise.Bytes(), 32},
		{"anim.gif", "image/gif", readTestImage(t, "anim.gif"), 64},
		{"alpha.png", "image/webp", readTestImage(t, "alpha.png"), 128},
	} {
		_, code, name := f.upload(t, tt.data)
		if code != 0 {
			t.Fatalf("upload %s = code %d", tt.file, code)
		}
		for _, accept := range []string{browserAccept, ""} {
			r, body := getWith(t, "GET", fmt.Sprintf("%s/v2/static/employee/avatars/%s?size=%d", f.http.URL, name, tt.size), "Accept", accept)
			want := tt.mime
			if accept == "" && want == "image/webp" {
				want = "image/png"
			}
			if r.StatusCode != 200 || r.Header.Get("Content-Type") != want || r.Header.Get("Vary") != "Accept" {
				t.Errorf("%s at %d, Accept %q: %d %s, Vary %q; want %s", tt.file, tt.size, accept, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Vary"), want)
			}
			if want == "image/gif" {
				g, err := gif.DecodeAll(bytes.NewReader(body))
				if err != nil || len(g.Image) < 2 {
					t.Errorf("%s at %d, Accept %q: not animated (%v)", tt.file, tt.size, accept, err)
				}
			}
		}
	}
}

func mustGet(t *testing.T, url string) []byte {
	t.Helper()
	r, body := getWith(t, "GET", url)
	if r.StatusCode != 200 {
		t.Fatalf("GET %s = %d", url, r.StatusCode)
	}
	return body
}
