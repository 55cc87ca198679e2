// Package avatartest makes pictures for tests and benchmarks of the image
// pipeline, the same everywhere so that numbers can be compared.
package avatartest

import (
	"image"
	"math"
	"math/rand/v2"
)

// Photo returns a w×h picture that compresses like a photograph: smooth
// gradients with some sensor-like noise. The same seed gives the same
// picture.
func Photo(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	fw, fh := float64(w), float64(h)
	for y := range h {
		row := m.Pix[y*m.Stride : y*m.Stride+4*w]
		fy := float64(y) / fh
		for x := range w {
			fx := float64(x) / fw
			r := 120 + 80*math.Sin(3*fx+1.3*fy) + 30*math.Cos(11*fx*fy)
			g := 110 + 70*math.Cos(2.2*fy-fx) + 25*math.Sin(17*fx)
			b := 100 + 90*math.Sin(1.7*fx+2.9*fy+0.5) + 20*math.Cos(23*fy)
			n := rng.NormFloat64() * 4
			row[4*x] = clamp(r + n)
			row[4*x+1] = clamp(g + n)
			row[4*x+2] = clamp(b + n)
			row[4*x+3] = 0xFF
		}
	}
	return m
}

func clamp(v float64) byte {
	return byte(math.Max(0, math.Min(255, math.Round(v))))
}

// Noise is a w×h picture of random pixels, alpha included: nothing for a
// lossless coder to find, so WebP comes out larger than PNG.
func Noise(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(rng.Uint32())
	}
	return m
}
