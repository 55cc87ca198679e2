package avatar

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	gwebp "github.com/gen2brain/webp"

	"roster/internal/avatar/avatartest"
)

// renditionPixels is what a square rendition of stored bytes is encoded
// from: the reference both of its variants are measured against.
func renditionPixels(t *testing.T, stored []byte, size int) image.Image {
	t.Helper()
	var m image.Image
	var err error
	if f, _ := Sniff(stored); f == JPEG {
		m, err = jpeg.Decode(bytes.NewReader(stored))
	} else {
		m, err = png.Decode(bytes.NewReader(stored))
	}
	if err != nil {
		t.Fatal(err)
	}
	r, dw, dh := plan{side: size, square: true}.geometry(m.Bounds().Dx(), m.Bounds().Dy())
	return shrink(m, r, dw, dh)
}

// decodeWebP reads a WebP variant back as a browser shows it.
func decodeWebP(t *testing.T, data []byte) image.Image {
	t.Helper()
	m, err := DecodeWebP(data)
	if err != nil {
		t.Fatalf("decoding the WebP variant: %v", err)
	}
	return m
}

// TestWebPVariantOfPhotos: for real photographs, each WebP rendition at the
// sizes lists show is as good as the JPEG rendition by SSIM (within
// webpTolerance) and at most 0.8× its bytes, the three together at most
// 0.7×.
func TestWebPVariantOfPhotos(t *testing.T) {
	if !WebPSandboxed() {
		t.Skip("a system libwebp is loaded; no WebP variants are made")
	}
	for _, name := range []string{"photo-astronaut.jpg", "photo-chelsea.jpg", "photo-coffee.jpg"} {
		t.Run(name, func(t *testing.T) {
			up, err := Process(readTestdata(t, name), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var jpegBytes, webpBytes int
			for _, size := range []int{64, 128, 256} {
				stored, wp, err := RenditionVariants(up.Data, size, Limits{})
				if err != nil {
					t.Fatalf("RenditionVariants(%d) = %v", size, err)
				}
				if stored.Format != JPEG || wp.Format != WebP {
					t.Fatalf("RenditionVariants(%d) = %v and %v, want JPEG and WebP", size, stored.Format, wp.Format)
				}
				if !isWebP(wp.Data) || wp.Width != size || wp.Height != size {
					t.Fatalf("WebP variant at %d: %d×%d, RIFF WEBP %v", size, wp.Width, wp.Height, isWebP(wp.Data))
				}
				ref := renditionPixels(t, up.Data, size)
				jd, err := jpeg.Decode(bytes.NewReader(stored.Data))
				if err != nil {
					t.Fatal(err)
				}
				sj, sw := SSIM(ref, jd), SSIM(ref, decodeWebP(t, wp.Data))
				ratio := float64(len(wp.Data)) / float64(len(stored.Data))
				t.Logf("%d: JPEG %d B SSIM %.4f, WebP %d B SSIM %.4f (%.2f×)", size, len(stored.Data), sj, len(wp.Data), sw, ratio)
				if sw < sj-webpTolerance {
					t.Errorf("at %d the WebP's SSIM %.4f is below the JPEG's %.4f by more than %v", size, sw, sj, webpTolerance)
				}
				if ratio > 0.8 {
					t.Errorf("at %d the WebP is %.2f× the JPEG's bytes, want at most 0.8×", size, ratio)
				}
				jpegBytes += len(stored.Data)
				webpBytes += len(wp.Data)
			}
			if r := float64(webpBytes) / float64(jpegBytes); r > 0.7 {
				t.Errorf("the three WebP renditions are %.2f× the JPEGs' bytes, want at most 0.7×", r)
			}
		})
	}
}

// TestWebPVariantKeepsFlatPictures: a PNG rendition's WebP variant is
// lossless — every pixel's alpha, and the colour of every pixel not fully
// transparent, as the PNG has it — and only made when smaller; a GIF
// rendition and one above MaxWebPSide get none.
func TestWebPVariantKeepsFlatPictures(t *testing.T) {
	if !WebPSandboxed() {
		t.Skip("a system libwebp is loaded; no WebP variants are made")
	}
	tests := []struct {
		name string
		data []byte
		size int
		webp bool // a WebP variant is expected
	}{
		{"transparent PNG", readTestdata(t, "alpha.png"), 128, true},
		{"palette PNG", readTestdata(t, "palette.png"), 64, true},
		{"icon", flatIcon(t), 48, true},
		{"noise, which WebP makes larger", noisePNG(t), 32, false},
		{"animated GIF", readTestdata(t, "anim.gif"), 64, false},
		{"photo above the largest WebP side", readTestdata(t, "photo-coffee.jpg"), 512, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, err := Process(tt.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			stored, wp, err := RenditionVariants(up.Data, tt.size, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.webp {
				if wp.Data != nil {
					t.Fatalf("%s at %d has a WebP variant of %d bytes, want none", tt.name, tt.size, len(wp.Data))
				}
				return
			}
			if wp.Format != WebP || len(wp.Data) >= len(stored.Data) {
				t.Fatalf("%s: WebP variant %v of %d bytes for a %v of %d, want a smaller WebP", tt.name, wp.Format, len(wp.Data), stored.Format, len(stored.Data))
			}
			t.Logf("%s at %d: %v %d B, WebP %d B", tt.name, tt.size, stored.Format, len(stored.Data), len(wp.Data))
			want, err := png.Decode(bytes.NewReader(stored.Data))
			if err != nil {
				t.Fatal(err)
			}
			got := decodeWebP(t, wp.Data)
			if got.Bounds() != want.Bounds() {
				t.Fatalf("WebP is %v, PNG %v", got.Bounds(), want.Bounds())
			}
			b := want.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					g, w := nrgbaAt(got, x, y), nrgbaAt(want, x, y)
					if g.A != w.A || w.A != 0 && g != w {
						t.Fatalf("pixel (%d, %d) is %v in the WebP, %v in the PNG", x, y, g, w)
					}
				}
			}
		})
	}
}

func nrgbaAt(m image.Image, x, y int) color.NRGBA {
	return color.NRGBAModel.Convert(m.At(x, y)).(color.NRGBA)
}

// flatIcon is a logo-like picture: a few flat colours, sharp edges and a
// transparent background, as a PNG.
func flatIcon(t *testing.T) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, 96, 96))
	for y := range 96 {
		for x := range 96 {
			dx, dy := x-48, y-48
			switch {
			case dx*dx+dy*dy < 30*30 && x < 48:
				m.SetNRGBA(x, y, color.NRGBA{0x1e, 0x88, 0xe5, 0xff})
			case dx*dx+dy*dy < 30*30:
				m.SetNRGBA(x, y, color.NRGBA{0xff, 0xc1, 0x07, 0xff})
			case dx*dx+dy*dy < 40*40:
				m.SetNRGBA(x, y, color.NRGBA{0x21, 0x21, 0x21, 0xff})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noisePNG is avatartest.Noise at 32×32, as a PNG.
func noisePNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, avatartest.Noise(32, 32, 1)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWebPFailureKeepsRendition: when the WebP encoder fails, the rendition
// is made all the same and the failure is a *WebPError beside it.
func TestWebPFailureKeepsRendition(t *testing.T) {
	if !WebPSandboxed() {
		t.Skip("a system libwebp is loaded; no WebP variants are made")
	}
	up, err := Process(readTestdata(t, "photo-coffee.jpg"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Rendition(up.Data, 64)
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("the sandbox ran out of memory")
	real := encodeWebP
	encodeWebP = func(*image.NRGBA, gwebp.Options) ([]byte, error) { return nil, broken }
	t.Cleanup(func() { encodeWebP = real })
	stored, wp, err := RenditionVariants(up.Data, 64, Limits{})
	var werr *WebPError
	if !errors.As(err, &werr) || !errors.Is(err, broken) {
		t.Fatalf("RenditionVariants with a failing encoder: err = %v, want a *WebPError wrapping %v", err, broken)
	}
	if !bytes.Equal(stored.Data, want.Data) || stored.Format != JPEG {
		t.Errorf("the rendition beside the failure is %v, %d bytes; want the JPEG rendition, %d bytes", stored.Format, len(stored.Data), len(want.Data))
	}
	if wp.Data != nil {
		t.Errorf("a WebP variant of %d bytes came with the failure", len(wp.Data))
	}
}
