package avatar

import (
	"image"
	"image/color"
	"math"
)

// SSIM is the structural similarity of two pictures of the same size, on
// their BT.601 luma: Wang, Bovik, Sheikh and Simoncelli's index (2004) with
// its usual parameters — an 11×11 Gaussian window of σ 1.5, K1 0.01,
// K2 0.03, L 255 — averaged over every window that fits inside the picture.
// 1 means identical. Pictures smaller than the window are compared as one
// window. Transparent pixels count as what they are composited on black.
func SSIM(a, b image.Image) float64 {
	return ssimLuma(lumaOf(a), lumaOf(b))
}

// luma is a picture's luma, one float a pixel, row by row.
type luma struct {
	v    []float64
	w, h int
}

// lumaOf reads the luma of a picture; full-range YCbCr and grey pictures
// give theirs as they are.
func lumaOf(m image.Image) luma {
	b := m.Bounds()
	l := luma{v: make([]float64, b.Dx()*b.Dy()), w: b.Dx(), h: b.Dy()}
	i := 0
	switch m := m.(type) {
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, v := range m.Y[m.YOffset(b.Min.X, y):][:b.Dx()] {
				l.v[i] = float64(v)
				i++
			}
		}
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, v := range m.Pix[m.PixOffset(b.Min.X, y):][:b.Dx()] {
				l.v[i] = float64(v)
				i++
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.RGBAModel.Convert(m.At(x, y)).(color.RGBA)
				l.v[i] = 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
				i++
			}
		}
	}
	return l
}

// ssimWindow is the normalised 11-tap Gaussian of σ 1.5; the 2-D window is
// its outer product, so the local means are two 1-D passes.
var ssimWindow = func() (k [11]float64) {
	var sum float64
	for i := range k {
		d := float64(i - 5)
		k[i] = math.Exp(-d * d / (2 * 1.5 * 1.5))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}()

func ssimLuma(a, b luma) float64 {
	if a.w != b.w || a.h != b.h {
		return 0
	}
	return newSSIMRef(a).score(b)
}

// The constants of the index for 8-bit samples.
const ssimC1, ssimC2 = (0.01 * 255) * (0.01 * 255), (0.03 * 255) * (0.03 * 255)

// ssimRef holds what the index needs of a reference picture, and scratch
// planes, so that scoring one candidate after another allocates nothing.
type ssimRef struct {
	a                 luma
	meanA, meanAA     []float64 // the reference's local means of x and x²
	sq, rows          []float64 // scratch: a product plane, a half-blurred one
	meanB, meanBB, ab []float64 // scratch: the candidate's local means
}

func newSSIMRef(a luma) *ssimRef {
	r := &ssimRef{a: a}
	if a.w < len(ssimWindow) || a.h < len(ssimWindow) {
		return r
	}
	n, valid := a.w*a.h, (a.w-len(ssimWindow)+1)*(a.h-len(ssimWindow)+1)
	r.sq, r.rows = make([]float64, n), make([]float64, (a.w-len(ssimWindow)+1)*a.h)
	r.meanA, r.meanAA = make([]float64, valid), make([]float64, valid)
	r.meanB, r.meanBB, r.ab = make([]float64, valid), make([]float64, valid), make([]float64, valid)
	r.blur(r.meanA, a.v)
	for i, v := range a.v {
		r.sq[i] = v * v
	}
	r.blur(r.meanAA, r.sq)
	return r
}

// score is the index of a candidate of the reference's size.
func (r *ssimRef) score(b luma) float64 {
	a := r.a
	if a.w != b.w || a.h != b.h || a.w == 0 || a.h == 0 {
		return 0
	}
	if r.meanA == nil {
		return ssimOne(a.v, b.v)
	}
	r.blur(r.meanB, b.v)
	for i, v := range b.v {
		r.sq[i] = v * v
	}
	r.blur(r.meanBB, r.sq)
	for i, v := range b.v {
		r.sq[i] = v * a.v[i]
	}
	r.blur(r.ab, r.sq)
	var sum float64
	for i, ma := range r.meanA {
		mb := r.meanB[i]
		va, vb, cov := r.meanAA[i]-ma*ma, r.meanBB[i]-mb*mb, r.ab[i]-ma*mb
		sum += (2*ma*mb + ssimC1) * (2*cov + ssimC2) / ((ma*ma + mb*mb + ssimC1) * (va + vb + ssimC2))
	}
	return sum / float64(len(r.meanA))
}

// blur filters a plane of the reference's size with ssimWindow in both
// directions into out, keeping only the positions where the window fits
// ("valid").
func (r *ssimRef) blur(out, m []float64) {
	w, h, k := r.a.w, r.a.h, len(ssimWindow)
	ow, oh := w-k+1, h-k+1
	for y := range h {
		src := m[y*w:]
		for x := range ow {
			var s float64
			for i, g := range ssimWindow {
				s += g * src[x+i]
			}
			r.rows[y*ow+x] = s
		}
	}
	for y := range oh {
		for x := range ow {
			var s float64
			for i, g := range ssimWindow {
				s += g * r.rows[(y+i)*ow+x]
			}
			out[y*ow+x] = s
		}
	}
}

// ssimOne is the index of two small pictures taken as one window.
func ssimOne(a, b []float64) float64 {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma, mb = ma/n, mb/n
	var va, vb, cov float64
	for i := range a {
		va += (a[i] - ma) * (a[i] - ma)
		vb += (b[i] - mb) * (b[i] - mb)
		cov += (a[i] - ma) * (b[i] - mb)
	}
	va, vb, cov = va/n, vb/n, cov/n
	return (2*ma*mb + ssimC1) * (2*cov + ssimC2) / ((ma*ma + mb*mb + ssimC1) * (va + vb + ssimC2))
}
