package avatar

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"image/jpeg"
	"math"
	"testing"

	"golang.org/x/image/draw"
)

func TestMakeTaps(t *testing.T) {
	for _, src := range []int{1, 2, 3, 7, 100, 1001, 4000} {
		for _, dst := range []int{1, 2, 3, 17, 64, 100, 1024, 2000} {
			tp := makeTaps(src, dst)
			for i := range dst {
				s, n := tp.start[i], tp.n[i]
				if s < 0 || n < 1 || s+n > src {
					t.Fatalf("makeTaps(%d, %d): output %d takes [%d, %d), want within [0, %d)", src, dst, i, s, s+n, src)
				}
				var sum int32
				for _, w := range tp.w[i*tp.width : i*tp.width+n] {
					sum += w
				}
				if sum != weightOne {
					t.Fatalf("makeTaps(%d, %d): output %d weights sum to %d, want %d", src, dst, i, sum, weightOne)
				}
			}
		}
	}
}

// uniform returns pictures of each type the decoders produce, filled with
// one opaque colour (approximately: YCbCr cannot hold every RGB exactly).
func uniform(w, h int, c color.NRGBA) map[string]image.Image {
	out := map[string]image.Image{}
	fill := func(name string, m stddraw.Image) {
		stddraw.Draw(m, m.Bounds(), image.NewUniform(c), image.Point{}, stddraw.Src)
		out[name] = m
	}
	r := image.Rect(0, 0, w, h)
	fill("RGBA", image.NewRGBA(r))
	fill("NRGBA", image.NewNRGBA(r))
	fill("RGBA64", image.NewRGBA64(r))
	fill("NRGBA64", image.NewNRGBA64(r))
	fill("CMYK", image.NewCMYK(r))
	pal := image.NewPaletted(r, color.Palette{color.Black, c, color.White})
	for i := range pal.Pix {
		pal.Pix[i] = 1
	}
	out["Paletted"] = pal
	yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		m := image.NewYCbCr(r, ratio)
		for i := range m.Y {
			m.Y[i] = yy
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = cb, cr
		}
		out["YCbCr"+ratio.String()] = m
	}
	return out
}

func TestShrinkUniform(t *testing.T) {
	want := color.NRGBA{200, 60, 30, 255}
	sizes := [][4]int{{97, 61, 97, 61}, {97, 61, 40, 25}, {97, 61, 7, 5}, {97, 61, 1, 1}, {320, 240, 50, 37}, {33, 9, 33, 9}}
	for _, s := range sizes {
		for name, img := range uniform(s[0], s[1], want) {
			t.Run(fmt.Sprintf("%s/%dx%d-%dx%d", name, s[0], s[1], s[2], s[3]), func(t *testing.T) {
				out := shrink(img, img.Bounds(), s[2], s[3])
				if b := out.Bounds(); b != image.Rect(0, 0, s[2], s[3]) {
					t.Fatalf("shrink() bounds = %v, want %v", b, image.Rect(0, 0, s[2], s[3]))
				}
				tol := 1
				if _, ok := img.(*image.YCbCr); ok {
					tol = 3
				}
				for y := range s[3] {
					for x := range s[2] {
						c := color.NRGBAModel.Convert(out.At(x, y)).(color.NRGBA)
						if !near(c, int(want.R), int(want.G), int(want.B), tol) || c.A != 255 {
							t.Fatalf("shrink() at (%d,%d) = %v, want %v", x, y, c, want)
						}
					}
				}
			})
		}
	}
}

// psnr compares two pictures of the same size over RGB.
func psnr(a, b image.Image) float64 {
	toRGBA := func(m image.Image) *image.RGBA {
		d := image.NewRGBA(image.Rect(0, 0, m.Bounds().Dx(), m.Bounds().Dy()))
		stddraw.Draw(d, d.Rect, m, m.Bounds().Min, stddraw.Src)
		return d
	}
	pa, pb := toRGBA(a).Pix, toRGBA(b).Pix
	var se float64
	for i := range pa {
		if i%4 == 3 {
			continue
		}
		d := float64(pa[i]) - float64(pb[i])
		se += d * d
	}
	mse := se / float64(len(pa)/4*3)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// TestShrinkMatchesReference compares box+Catmull-Rom against
// golang.org/x/image/draw's plain Catmull-Rom on a photo-like picture.
func TestShrinkMatchesReference(t *testing.T) {
	src := photo(160, 120, 7)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	ycc, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	yccRGBA := image.NewRGBA(ycc.Bounds())
	stddraw.Draw(yccRGBA, yccRGBA.Rect, ycc, image.Point{}, stddraw.Src)

	for _, crop := range []image.Rectangle{src.Rect, image.Rect(21, 0, 141, 120)} {
		for _, d := range [][2]int{{160, 120}, {80, 60}, {67, 50}, {33, 25}, {13, 10}, {170, 127}} {
			dw, dh := d[0]*crop.Dx()/160, d[1]
			for _, tc := range []struct {
				name string
				in   image.Image
				ref  *image.RGBA
			}{
				{"RGBA", src, src},
				{"YCbCr", ycc, yccRGBA},
			} {
				t.Run(fmt.Sprintf("%s/%v/%dx%d", tc.name, crop, dw, dh), func(t *testing.T) {
					want := image.NewRGBA(image.Rect(0, 0, dw, dh))
					draw.CatmullRom.Scale(want, want.Rect, tc.ref, crop, draw.Src, nil)
					// shrink may convert in place; give it a copy.
					in := clone(tc.in)
					got := shrink(in, crop, dw, dh)
					min := 34.0
					// A box then a short Catmull-Rom is not the same filter
					// as one long Catmull-Rom; it shows most at tiny sizes.
					switch {
					case tc.name == "YCbCr" && dw < 32:
						min = 25 // chroma is scaled at 4:2:0: 5 rows of it here
					case tc.name == "YCbCr":
						min = 30
					case dw < 32:
						min = 30
					}
					if p := psnr(got, want); p < min {
						t.Errorf("shrink() differs from Catmull-Rom: PSNR %.1f dB, want ≥ %.0f", p, min)
					}
				})
			}
		}
	}
}

func clone(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.RGBA:
		c := *m
		c.Pix = bytes.Clone(m.Pix)
		return &c
	case *image.YCbCr:
		c := *m
		c.Y, c.Cb, c.Cr = bytes.Clone(m.Y), bytes.Clone(m.Cb), bytes.Clone(m.Cr)
		return &c
	}
	panic("clone")
}

// TestShrinkPremultiplied: scaling a green square on transparent black must
// not darken its edges (as straight-alpha scaling would).
func TestShrinkPremultiplied(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 90, 90))
	for y := 30; y < 60; y++ {
		for x := 30; x < 60; x++ {
			m.SetNRGBA(x, y, color.NRGBA{0, 255, 0, 255})
		}
	}
	out := shrink(m, m.Rect, 20, 20)
	edges := 0
	for y := range 20 {
		for x := range 20 {
			c := color.NRGBAModel.Convert(out.At(x, y)).(color.NRGBA)
			if c.A == 0 {
				continue
			}
			if c.A < 255 {
				edges++
			}
			if c.A > 16 && (c.G < 230 || c.R > 20 || c.B > 20) {
				t.Errorf("at (%d,%d) colour %v, want green at any alpha", x, y, c)
			}
		}
	}
	if edges == 0 {
		t.Error("no partly transparent edge pixels")
	}
}

func TestOrient(t *testing.T) {
	// A 3×2 grey picture with distinct samples, and where each lands.
	src := &image.Gray{Pix: []byte{1, 2, 3, 4, 5, 6}, Stride: 3, Rect: image.Rect(0, 0, 3, 2)}
	tests := []struct {
		o    int
		w, h int
		want []byte
	}{
		{1, 3, 2, []byte{1, 2, 3, 4, 5, 6}},
		{2, 3, 2, []byte{3, 2, 1, 6, 5, 4}},
		{3, 3, 2, []byte{6, 5, 4, 3, 2, 1}},
		{4, 3, 2, []byte{4, 5, 6, 1, 2, 3}},
		{5, 2, 3, []byte{1, 4, 2, 5, 3, 6}},
		{6, 2, 3, []byte{4, 1, 5, 2, 6, 3}},
		{7, 2, 3, []byte{6, 3, 5, 2, 4, 1}},
		{8, 2, 3, []byte{3, 6, 2, 5, 1, 4}},
	}
	for _, tt := range tests {
		got := orient(src, tt.o).(*image.Gray)
		if got.Rect.Dx() != tt.w || got.Rect.Dy() != tt.h || !bytes.Equal(got.Pix, tt.want) {
			t.Errorf("orient(%d) = %d×%d %v, want %d×%d %v", tt.o, got.Rect.Dx(), got.Rect.Dy(), got.Pix, tt.w, tt.h, tt.want)
		}
		// RGBA agrees with grey.
		rgba := image.NewRGBA(src.Rect)
		for i, v := range src.Pix {
			copy(rgba.Pix[4*i:], []byte{v, v, v, 255})
		}
		gotRGBA := orient(rgba, tt.o).(*image.RGBA)
		for i, v := range tt.want {
			if gotRGBA.Pix[4*i] != v {
				t.Errorf("orient(%d) RGBA sample %d = %d, want %d", tt.o, i, gotRGBA.Pix[4*i], v)
			}
		}
	}
}
