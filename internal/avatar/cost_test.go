package avatar

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"runtime/debug"
	"testing"

	"roster/internal/avatar/avatartest"
)

// allocated returns the bytes f allocates on the heap with the collector
// off: nothing is freed while it runs, so this is at least the most it
// held at once.
func allocated(f func()) int64 {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// checkBound says whether an estimate bounds a measured allocation without
// being absurdly above it: at most three times it, with 4 MiB of room for
// the fixed costs and output bounds of small pictures.
func checkBound(est, measured int64) error {
	if est < measured {
		return fmt.Errorf("estimate %d is below the %d bytes allocated", est, measured)
	}
	if est > 3*measured+4<<20 {
		return fmt.Errorf("estimate %d is more than three times the %d bytes allocated", est, measured)
	}
	return nil
}

func TestCheckBound(t *testing.T) {
	tests := []struct {
		est, measured int64
		ok            bool
	}{
		{100 << 20, 100 << 20, true},
		{300 << 20, 100 << 20, true},
		{99 << 20, 100 << 20, false},
		{305 << 20, 100 << 20, false},
		{4 << 20, 10, true},
	}
	for _, tt := range tests {
		if err := checkBound(tt.est, tt.measured); (err == nil) != tt.ok {
			t.Errorf("checkBound(%d, %d) = %v, want ok %v", tt.est, tt.measured, err, tt.ok)
		}
	}
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, m image.Image) []byte {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// translucent is a w×h photo-like picture with an alpha ramp.
func translucent(w, h int) *image.NRGBA {
	p := photo(w, h, 7)
	m := image.NewNRGBA(p.Rect)
	copy(m.Pix, p.Pix)
	for y := range h {
		for x := range w {
			m.Pix[y*m.Stride+4*x+3] = byte(x * 255 / w)
		}
	}
	return m
}

func costCorpus(t *testing.T) []struct {
	name string
	data []byte
} {
	gray16 := image.NewGray16(image.Rect(0, 0, 300, 200))
	for i := range gray16.Pix {
		gray16.Pix[i] = byte(i * 7)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 600, 400), palette.Plan9)
	draw.FloydSteinberg.Draw(pal, pal.Rect, photo(600, 400, 3), image.Point{})
	anim := &gif.GIF{}
	for i := range 6 {
		m := image.NewPaletted(image.Rect(0, 0, 400, 300), palette.WebSafe)
		draw.Draw(m, image.Rect(i*20, i*10, 200+i*20, 150+i*10), image.NewUniform(color.RGBA{200, 30, 30, 255}), image.Point{}, draw.Src)
		anim.Image, anim.Delay = append(anim.Image, m), append(anim.Delay, 10)
	}
	var animBuf bytes.Buffer
	if err := gif.EncodeAll(&animBuf, anim); err != nil {
		t.Fatal(err)
	}
	return []struct {
		name string
		data []byte
	}{
		{"baseline.jpg", readTestdata(t, "baseline.jpg")},
		{"progressive.jpg", readTestdata(t, "progressive.jpg")},
		{"gray.jpg", readTestdata(t, "gray.jpg")},
		{"cmyk.jpg", readTestdata(t, "cmyk.jpg")},
		{"ycck.jpg", readTestdata(t, "ycck.jpg")},
		{"exif-orient6.jpg", readTestdata(t, "exif-orient6.jpg")},
		{"alpha.png", readTestdata(t, "alpha.png")},
		{"palette.png", readTestdata(t, "palette.png")},
		{"deep16.png", readTestdata(t, "deep16.png")},
		{"anim.gif", readTestdata(t, "anim.gif")},
		{"photo 1600×1200 JPEG", encodeJPEG(t, photo(1600, 1200, 1), 90)},
		{"photo 1200×1600 JPEG 4:4:4 from YCbCr", encodeJPEG(t, ycbcr444(photo(1200, 1600, 2)), 90)},
		{"grey 2000×1000 JPEG", encodeJPEG(t, image.NewGray(image.Rect(0, 0, 2000, 1000)), 90)},
		{"translucent 1500×1000 PNG", encodePNG(t, translucent(1500, 1000))},
		{"opaque 1100×700 PNG", encodePNG(t, photo(1100, 700, 5))},
		{"16-bit grey PNG", encodePNG(t, gray16)},
		{"paletted 600×400 PNG", encodePNG(t, pal)},
		{"animated 400×300×6 GIF", animBuf.Bytes()},
		{"4-component progressive EOB 700×700", avatartest.ProgressiveEOB(700, 700, 4)},
		{"3-component progressive EOB 1500×900", avatartest.ProgressiveEOB(1500, 900, 3)},
		{"most scans accepted 1200×900", avatartest.MaxAcceptedScans(1200, 900)},
		{"16-bit interlaced 900×700 PNG", avatartest.DeepInterlacedPNG(900, 700)},
		{"lossy.webp", readTestdata(t, "lossy.webp")},
		{"lossless.webp", readTestdata(t, "lossless.webp")},
		{"alpha.webp", readTestdata(t, "alpha.webp")},
		{"meta.webp", readTestdata(t, "meta.webp")},
	}
}

// ycbcr444 converts m to a 4:4:4 YCbCr picture, which image/jpeg encodes
// as 4:2:0 anyway; it is here for the encoder's other input path.
func ycbcr444(m *image.RGBA) *image.YCbCr {
	d := image.NewYCbCr(m.Rect, image.YCbCrSubsampleRatio444)
	draw.Draw(&rgbaOnYCbCr{d}, m.Rect, m, image.Point{}, draw.Src)
	return d
}

type rgbaOnYCbCr struct{ *image.YCbCr }

func (m *rgbaOnYCbCr) Set(x, y int, c color.Color) {
	r, g, b, _ := c.RGBA()
	yy, cb, cr := color.RGBToYCbCr(byte(r>>8), byte(g>>8), byte(b>>8))
	m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)] = yy, cb, cr
}

// TestCostBoundsAllocation: for real pictures of every kind, ProcessCost
// and RenditionCost are at least what Process and Rendition allocate (with
// the collector off, an upper bound on what they hold at once) and at most
// three times it.
func TestCostBoundsAllocation(t *testing.T) {
	lim := DefaultLimits()
	WarmWebP() // once a process, at start-up: not in any estimate
	for _, c := range costCorpus(t) {
		// Negative sizes stand for the rendition with its WebP variant.
		for _, size := range []int{0, 64, 512, -64, -256} {
			name := c.name + "/process"
			est, err := ProcessCost(c.data, lim)
			run := func() { _, err = Process(c.data, lim) }
			switch {
			case size > 0:
				name = fmt.Sprintf("%s/rendition %d", c.name, size)
				est, err = RenditionCost(c.data, size, lim)
				run = func() { _, err = RenditionWithLimits(c.data, size, lim) }
			case size < 0:
				name = fmt.Sprintf("%s/rendition %d with WebP", c.name, -size)
				est, err = RenditionVariantsCost(c.data, -size, lim)
				run = func() { _, _, err = RenditionVariants(c.data, -size, lim) }
			}
			if err != nil {
				t.Errorf("%s: cost = %v", name, err)
				continue
			}
			got := allocated(run)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if w, err := walkWebP(c.data); err == nil && (w.lossless || w.alphaLossless) {
				// A VP8L entropy code's size is not in any header, so its
				// estimate is the decoder's worst case (see vp8lCost):
				// only the lower side can hold.
				if est < got {
					t.Errorf("%s: estimate %d is below the %d bytes allocated", name, est, got)
				}
				continue
			}
			if err := checkBound(est, got); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// TestCheckBoundCatchesLowEstimate: the stub this package once had (eight
// bytes a pixel plus the output) passes for ordinary pictures but is far
// below what a progressive four-component file allocates, and the check
// says so.
func TestCheckBoundCatchesLowEstimate(t *testing.T) {
	data := avatartest.ProgressiveEOB(700, 700, 4)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	stub := 8*int64(cfg.Width)*int64(cfg.Height) + 8*1024*1024
	got := allocated(func() { _, err = Process(data, Limits{}) })
	if err != nil {
		t.Fatal(err)
	}
	if err := checkBound(stub, got); err == nil {
		t.Errorf("checkBound(stub %d, %d allocated) = nil, want an error", stub, got)
	}
}

// TestCostOfLargePictures: the pictures an ordinary user uploads fit the
// server's default work budget of 288 MiB, the attacks do not, and the
// real allocation of the large ones is within their estimate.
func TestCostOfLargePictures(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes 50-megapixel pictures")
	}
	const budget = 288 << 20
	flat := image.NewRGBA(image.Rect(0, 0, 8660, 5773))
	for i := range flat.Pix {
		flat.Pix[i] = byte(i>>2) | 0x80
	}
	tests := []struct {
		name    string
		data    []byte
		fits    bool
		measure bool
	}{
		{"12 MP baseline JPEG photo", encodeJPEG(t, photo(4000, 3000, 1), 90), true, true},
		{"50 MP baseline JPEG", encodeJPEG(t, flat, 90), true, true},
		{"50 MP 8-bit RGBA PNG", encodePNG(t, translucent(8660, 5773)), true, true},
		{"16-bit interlaced 7071×7071 RGBA PNG", avatartest.DeepInterlacedPNG(7071, 7071), false, false},
		{"4-component progressive 7000×7000 JPEG", avatartest.ProgressiveEOB(7000, 7000, 4), false, false},
	}
	for _, tt := range tests {
		est, err := ProcessCost(tt.data, DefaultLimits())
		if err != nil {
			t.Errorf("ProcessCost(%s) = %v", tt.name, err)
			continue
		}
		if fits := est <= budget; fits != tt.fits {
			t.Errorf("ProcessCost(%s) = %d MiB, want fitting in 288 MiB %v", tt.name, est>>20, tt.fits)
		}
		if !tt.measure {
			continue
		}
		got := allocated(func() { _, err = Process(tt.data, DefaultLimits()) })
		if err != nil {
			t.Errorf("Process(%s) = %v", tt.name, err)
		} else if err := checkBound(est, got); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		t.Logf("%s: estimate %d MiB, allocated %d MiB", tt.name, est>>20, got>>20)
	}
}

// TestAttacksRefused: each attack file is refused by its cost or by
// Process itself, cheaply, with a reason.
func TestAttacksRefused(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string // the refusal, or "" for a cost above 288 MiB
	}{
		{"4-component progressive EOB 7000×7000", avatartest.ProgressiveEOB(7000, 7000, 4), ""},
		{"16-bit interlaced 7071×7071 PNG", avatartest.DeepInterlacedPNG(7071, 7071), ""},
		{"100 refinement scans at 8660×5773", avatartest.RefinementScans(8660, 5773, 100),
			"progressive JPEG has too many scans for its size: the decoder would walk its blocks more than 8 times"},
		{"8 refinement scans at 64×64", avatartest.RefinementScans(64, 64, 8),
			"progressive JPEG has too many scans for its size: the decoder would walk its blocks more than 8 times"},
		{"50,000,000×1 PNG", avatartest.StripPNG(50_000_000),
			"image is 50000000×1 pixels; the long side may be at most 100 times the short one"},
	}
	for _, tt := range tests {
		var est int64
		var err error
		got := allocated(func() { est, err = ProcessCost(tt.data, DefaultLimits()) })
		if got > 1<<20 {
			t.Errorf("ProcessCost(%s) allocated %d bytes, want at most 1 MiB", tt.name, got)
		}
		if tt.want == "" {
			if err != nil || est <= 288<<20 {
				t.Errorf("ProcessCost(%s) = %d MiB, %v, want over 288 MiB", tt.name, est>>20, err)
			}
			continue
		}
		var re *RejectError
		if !errors.As(err, &re) || re.Reason != tt.want {
			t.Errorf("ProcessCost(%s) = %v, want *RejectError %q", tt.name, err, tt.want)
		}
		got = allocated(func() { _, err = Process(tt.data, DefaultLimits()) })
		if !errors.As(err, &re) || re.Reason != tt.want {
			t.Errorf("Process(%s) = %v, want *RejectError %q", tt.name, err, tt.want)
		}
		if got > 1<<20 {
			t.Errorf("Process(%s) allocated %d bytes refusing, want at most 1 MiB", tt.name, got)
		}
	}
}

// TestAttackFilesDecode: the generators make files the standard decoders
// take, at least their headers, at the size asked for.
func TestAttackFilesDecode(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		w, h int
	}{
		{"ProgressiveEOB", avatartest.ProgressiveEOB(120, 80, 4), 120, 80},
		{"RefinementScans", avatartest.RefinementScans(120, 80, 20), 120, 80},
		{"MaxAcceptedScans", avatartest.MaxAcceptedScans(120, 80), 120, 80},
		{"DeepInterlacedPNG", avatartest.DeepInterlacedPNG(120, 80), 120, 80},
		{"StripPNG", avatartest.StripPNG(120), 120, 1},
	}
	for _, tt := range tests {
		var m image.Image
		var err error
		if tt.data[0] == 0xFF {
			m, err = jpeg.Decode(bytes.NewReader(tt.data))
		} else {
			m, err = png.Decode(bytes.NewReader(tt.data))
		}
		if err != nil {
			t.Errorf("%s: decode = %v", tt.name, err)
			continue
		}
		if b := m.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
			t.Errorf("%s: decoded %v, want %d×%d", tt.name, b, tt.w, tt.h)
		}
	}
	if a, b := avatartest.ProgressiveEOB(7000, 7000, 4), avatartest.ProgressiveEOB(7000, 7000, 4); !bytes.Equal(a, b) || len(a) > 1024 {
		t.Errorf("ProgressiveEOB(7000, 7000, 4) = %d bytes, not the same twice or over 1 KiB", len(a))
	}
}

// TestJPEGBlockOut: uniform random pixels, the least compressible input,
// stay well inside the output bound the cost model takes for a block.
func TestJPEGBlockOut(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 1024, 768))
	for i := range m.Pix {
		m.Pix[i] = byte(uint32(i) * 2654435761 >> 24)
	}
	var buf bytes.Buffer
	if err := encodeStill(&buf, m, JPEG); err != nil {
		t.Fatal(err)
	}
	blocks := 64 * 48 * 6
	if per := buf.Len() / blocks; per*3 > jpegBlockOut {
		t.Errorf("encodeStill(noise) = %d bytes a block, want at most a third of %d", per, jpegBlockOut)
	}
}
