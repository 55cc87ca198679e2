package avatar

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"sync"

	gwebp "github.com/gen2brain/webp"
	"golang.org/x/image/webp"
)

// WebP is also written, for renditions only, by libwebp compiled to
// WebAssembly and run by wazero (github.com/gen2brain/webp): pure Go to
// build, and a memory-safety bug in libwebp stays inside the sandbox's own
// memory. The library would rather load a system libwebp.so when the
// binary is dynamically linked and one is installed (Debian's libwebp-dev);
// Roster then writes no WebP at all (WebPSandboxed says so and the server
// logs it), since that library runs with the process's memory. Build with
// -tags nodynamic to rule it out.

// MaxWebPSide is the largest rendition side that gets a WebP variant. A
// 512-pixel one costs 0.1–0.4 s and 30–70 MB inside the sandbox, for a size
// lists do not show; it is answered in the stored format.
const MaxWebPSide = 256

// webpTolerance is how much lower than the stored JPEG rendition's SSIM a
// WebP variant's may be: below what anyone sees, and what SSIM itself
// moves when a picture shifts by a pixel.
const webpTolerance = 0.005

// The qualities the search runs over. Below 40 libwebp's artefacts show at
// any SSIM; above 95 a WebP is larger than the JPEG rendition.
const webpMinQuality, webpMaxQuality = 40, 95

// webpEncodes is the most encodes the search makes: bisection over the
// 56 qualities.
const webpEncodes = 6

// webpMethod is libwebp's effort (0–6). 4 is its default: 6 saves about 2%
// more bytes for half as much time again (BenchmarkWebPRendition).
const webpMethod = 4

// WebPSandboxed reports whether WebP is written inside the WebAssembly
// sandbox; when it is not, no WebP variant is made.
func WebPSandboxed() bool { return gwebp.Dynamic() != nil }

var warmWebP = sync.OnceFunc(gwebp.Init)

// WarmWebP compiles the WebP encoder (about a third of a second), so that
// the first rendition asked for as WebP does not wait for it.
func WarmWebP() {
	if WebPSandboxed() {
		warmWebP()
	}
}

// webpVariant encodes a rendition's pixels as WebP, given the stored
// variant made from the same pixels: lossless for a PNG (which is
// lossless too), and for a JPEG lossy at the lowest quality whose SSIM
// against the pixels is within webpTolerance of the JPEG's. It returns
// the zero Image when WebP would not be smaller than stored, or cannot be
// made here.
func webpVariant(ref image.Image, stored Image) (Image, error) {
	b := ref.Bounds()
	if max(b.Dx(), b.Dy()) > MaxWebPSide || !WebPSandboxed() {
		return Image{}, nil
	}
	warmWebP()
	in := toNRGBA(ref)
	smaller := func(data []byte) Image {
		if len(data) >= len(stored.Data) {
			return Image{}
		}
		return Image{Data: data, Format: WebP, Width: b.Dx(), Height: b.Dy(), Frames: 1}
	}
	switch stored.Format {
	case PNG:
		data, err := encodeWebP(in, gwebp.Options{Lossless: true})
		if err != nil {
			return Image{}, err
		}
		return smaller(data), nil
	case JPEG:
	default:
		return Image{}, nil
	}
	jd, err := jpeg.Decode(bytes.NewReader(stored.Data))
	if err != nil {
		return Image{}, err
	}
	ssim := newSSIMRef(lumaOf(ref))
	target := ssim.score(lumaOf(jd)) - webpTolerance
	got := luma{v: make([]float64, b.Dx()*b.Dy()), w: b.Dx(), h: b.Dy()}
	// The smallest quality that reaches the target, by bisection (SSIM
	// grows with quality, if not strictly): at most webpEncodes encodes.
	var best []byte
	lo, hi := webpMinQuality, webpMaxQuality
	for lo <= hi {
		q := (lo + hi) / 2
		data, err := encodeWebP(in, gwebp.Options{Quality: q, Method: webpMethod})
		if err != nil {
			return Image{}, err
		}
		if err := webpLuma(data, got); err != nil {
			return Image{}, err
		}
		if ssim.score(got) >= target {
			best, hi = data, q-1
		} else {
			lo = q + 1
		}
	}
	if best == nil {
		return Image{}, nil
	}
	return smaller(best), nil
}

// encodeWebP is a variable so that a test can make the encoder fail.
var encodeWebP = func(m *image.NRGBA, o gwebp.Options) ([]byte, error) {
	var buf bytes.Buffer
	if err := gwebp.Encode(&buf, m, o); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// webpLuma decodes a lossy WebP's luma, as a browser shows it, into l.
func webpLuma(data []byte, l luma) error {
	m, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		return err
	}
	yc, ok := m.(*image.YCbCr)
	if !ok || yc.Rect.Dx() != l.w || yc.Rect.Dy() != l.h {
		return fmt.Errorf("decoding our own WebP gave %T of %v", m, m.Bounds())
	}
	for y := range l.h {
		for x, v := range yc.Y[y*yc.YStride:][:l.w] {
			l.v[y*l.w+x] = float64(lumaFull[v])
		}
	}
	return nil
}

// toNRGBA returns a picture as a tightly packed NRGBA starting at (0, 0),
// the layout the encoder reads.
func toNRGBA(m image.Image) *image.NRGBA {
	b := m.Bounds()
	rgba, ok := m.(*image.RGBA)
	if !ok || b.Min != (image.Point{}) || rgba.Stride != 4*b.Dx() {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, m, b.Min, draw.Src)
	}
	if opaqueRGBA(rgba) {
		return &image.NRGBA{Pix: rgba.Pix, Stride: rgba.Stride, Rect: rgba.Rect}
	}
	return unpremultiply(rgba)
}
