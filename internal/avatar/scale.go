package avatar

import (
	"image"
	"image/draw"
	"math"
	"runtime"
	"sync"
)

// Scaling is a box (exact area-average) filter by the largest integer
// factor k with k·d ≤ the source side, then Catmull-Rom over the rest of
// the ratio, which is below 2. The box is cheap and alias-free for what it
// does; Catmull-Rom on the small rest keeps edges sharp with little
// ringing. A colour JPEG's planes are scaled separately and never converted
// to RGB: luma to the output size, chroma from its own resolution straight
// to the 4:2:0 layout the JPEG encoder writes anyway.
//
// Everything works on interleaved 8-bit samples in plain slices, one or
// four a pixel; the four-sample form is premultiplied RGBA so that
// transparent pixels do not bleed their colour into their neighbours.

// maxBox bounds the box factor so that a block's sum of 8-bit samples
// (maxBox² × 255) fits in a uint32.
const maxBox = 2048

// plane is a rectangle of interleaved 8-bit samples.
type plane struct {
	pix    []byte
	stride int // bytes from one row to the next
	w, h   int // pixels
	c      int // samples a pixel: 1 (grey, or one plane of a YCbCr) or 4 (RGBA)
}

func (p plane) row(y int) []byte { return p.pix[y*p.stride : y*p.stride+p.w*p.c] }

func planeOf(img image.Image) plane {
	switch m := img.(type) {
	case *image.Gray:
		return plane{m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, m.Rect.Dx(), m.Rect.Dy(), 1}
	case *image.RGBA:
		return plane{m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, m.Rect.Dx(), m.Rect.Dy(), 4}
	}
	panic("avatar: plane of unexpected type")
}

func (p plane) image() image.Image {
	r := image.Rect(0, 0, p.w, p.h)
	if p.c == 1 {
		return &image.Gray{Pix: p.pix, Stride: p.stride, Rect: r}
	}
	return &image.RGBA{Pix: p.pix, Stride: p.stride, Rect: r}
}

// shrink returns the part r of img scaled to dw×dh as a new *image.Gray,
// *image.RGBA, or (for a colour JPEG) 4:2:0 *image.YCbCr whose bounds
// start at (0, 0). It may change img's pixels
// (conversions are done in place where the layouts allow).
func shrink(img image.Image, r image.Rectangle, dw, dh int) image.Image {
	var src image.Image
	switch m := img.(type) {
	case *image.YCbCr:
		if sx, sy := subsampling(m.SubsampleRatio); sx != 0 && m.Rect.Min == (image.Point{}) {
			return shrinkYCbCr(m, r, dw, dh, sx, sy)
		}
		src = ycbcrToRGBA(m, r)
	case *image.Gray:
		src = m.SubImage(r)
	case *image.Gray16:
		src = gray16ToGray(m, r)
	case *image.RGBA:
		src = m.SubImage(r)
	case *image.NRGBA:
		src = premultiply(m, r)
	case *image.CMYK:
		src = cmykToRGBA(m, r)
	case *image.Paletted:
		src = palettedToRGBA(m, r)
	case *image.RGBA64:
		src = rgba64ToRGBA(m, r)
	case *image.NRGBA64:
		src = nrgba64ToRGBA(m, r)
	default:
		// Not produced by the decoders used here; correct, if slow.
		d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
		draw.Draw(d, d.Rect, img, r.Min, draw.Src)
		src = d
	}
	p := scale(planeOf(src), dw, dh)
	if p.c == 4 {
		// Ringing may push a colour above its alpha; keep the
		// premultiplied invariant.
		parallel(p.h, p.w, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				row := p.row(y)
				for i := 0; i < len(row); i += 4 {
					q := row[i : i+4 : i+4]
					a := q[3]
					q[0], q[1], q[2] = min(q[0], a), min(q[1], a), min(q[2], a)
				}
			}
		})
	}
	return p.image()
}

func subsampling(r image.YCbCrSubsampleRatio) (sx, sy int) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 1, 1
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 0, 0
}

// shrinkYCbCr scales the planes of m's part r straight to a 4:2:0 picture
// of dw×dh, the layout the JPEG encoder writes: luma to dw×dh, chroma from
// its own resolution to half that. m's bounds must start at (0, 0).
func shrinkYCbCr(m *image.YCbCr, r image.Rectangle, dw, dh, sx, sy int) *image.YCbCr {
	y := plane{m.Y[m.YOffset(r.Min.X, r.Min.Y):], m.YStride, r.Dx(), r.Dy(), 1}
	cx0, cy0 := r.Min.X/sx, r.Min.Y/sy
	cw, ch := (r.Max.X+sx-1)/sx-cx0, (r.Max.Y+sy-1)/sy-cy0
	off := cy0*m.CStride + cx0
	cb := plane{m.Cb[off:], m.CStride, cw, ch, 1}
	cr := plane{m.Cr[off:], m.CStride, cw, ch, 1}
	dcw, dch := (dw+1)/2, (dh+1)/2
	y, cb, cr = scale(y, dw, dh), scale(cb, dcw, dch), scale(cr, dcw, dch)
	return &image.YCbCr{Y: y.pix, Cb: cb.pix, Cr: cr.pix, YStride: y.stride, CStride: cb.stride,
		SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: image.Rect(0, 0, dw, dh)}
}

// scale returns p scaled to dw×dh in new memory.
func scale(p plane, dw, dh int) plane {
	if k := min(p.w/dw, p.h/dh, maxBox); k >= 2 {
		p = box(p, k)
	}
	return resample(p, dw, dh)
}

// box averages k×k blocks. Blocks at the right and bottom edges may be
// partial; they average what they cover.
func box(p plane, k int) plane {
	dw, dh := (p.w+k-1)/k, (p.h+k-1)/k
	c := p.c
	d := plane{make([]byte, dw*dh*c), dw * c, dw, dh, c}
	parallel(dh, p.w*k, func(oy0, oy1 int) {
		cols := make([]uint32, p.w*c) // column sums over the block's rows
		for oy := oy0; oy < oy1; oy++ {
			y0 := oy * k
			y1 := min(y0+k, p.h)
			clear(cols)
			y := y0
			for ; y+2 <= y1; y += 2 { // two rows a time: half the loads and stores of cols
				r0, r1 := p.row(y), p.row(y+1)
				cols, r1 := cols[:len(r0)], r1[:len(r0)]
				for i, v := range r0 {
					cols[i] += uint32(v) + uint32(r1[i])
				}
			}
			if y < y1 {
				row := p.row(y)
				cols := cols[:len(row)]
				for i, v := range row {
					cols[i] += uint32(v)
				}
			}
			ny := uint32(y1 - y0)
			out := d.row(oy)
			for ox := range dw {
				x0 := ox * k
				x1 := min(x0+k, p.w)
				n := uint32(x1-x0) * ny
				if c == 1 {
					var s uint32
					for _, v := range cols[x0:x1] {
						s += v
					}
					out[ox] = byte((s + n/2) / n)
					continue
				}
				var s0, s1, s2, s3 uint32
				for i := x0 * 4; i < x1*4; i += 4 {
					q := cols[i : i+4 : i+4]
					s0 += q[0]
					s1 += q[1]
					s2 += q[2]
					s3 += q[3]
				}
				o := out[ox*4 : ox*4+4 : ox*4+4]
				o[0], o[1], o[2], o[3] = byte((s0+n/2)/n), byte((s1+n/2)/n), byte((s2+n/2)/n), byte((s3+n/2)/n)
			}
		}
	})
	return d
}

// Fixed-point precision of the resampling weights.
const (
	weightBits = 14
	weightOne  = 1 << weightBits
)

// taps holds, for each output position, the first source sample and the
// weights of the consecutive samples that make it.
type taps struct {
	start []int
	n     []int
	w     []int32 // row i at [i*width, i*width+n[i])
	width int
}

// catmullRom is the cubic convolution kernel with a = -0.5.
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// makeTaps computes Catmull-Rom weights for scaling src samples to dst.
// When shrinking, the kernel is stretched by the ratio so that it also
// filters. Samples beyond the edges repeat the edge sample.
func makeTaps(src, dst int) taps {
	ratio := float64(src) / float64(dst)
	stretch := max(ratio, 1)
	support := 2 * stretch
	width := makeTapsWidth(src, dst)
	t := taps{start: make([]int, dst), n: make([]int, dst), w: make([]int32, dst*width), width: width}
	fw := make([]float64, width)
	for i := range dst {
		centre := (float64(i) + 0.5) * ratio
		left := int(math.Floor(centre - support))
		lo, hi := min(max(left, 0), src-1), max(min(left+width, src)-1, 0)
		lo = min(lo, hi)
		clear(fw)
		var sum float64
		for j := left; j < left+width; j++ {
			wt := catmullRom((float64(j) + 0.5 - centre) / stretch)
			fw[min(max(j, lo), hi)-lo] += wt // fold the edges
			sum += wt
		}
		n := hi - lo + 1
		row := t.w[i*width : i*width+n]
		var isum int32
		big := 0
		for j := range row {
			row[j] = int32(math.Round(fw[j] / sum * weightOne))
			isum += row[j]
			if row[j] > row[big] {
				big = j
			}
		}
		row[big] += weightOne - isum // the weights sum to exactly one
		// Trim zero weights at both ends.
		for n > 1 && row[n-1] == 0 {
			n--
		}
		skip := 0
		for skip < n-1 && row[skip] == 0 {
			skip++
		}
		copy(row, row[skip:n])
		t.start[i], t.n[i] = lo+skip, n-skip
	}
	return t
}

// makeTapsWidth is the number of weights makeTaps keeps room for per
// output sample.
func makeTapsWidth(src, dst int) int {
	return int(math.Ceil(2*max(float64(src)/float64(dst), 1)))*2 + 1
}

func clamp8(v int32) byte {
	v = (v + weightOne/2) >> weightBits
	return byte(min(max(v, 0), 255))
}

// resample scales p to w×h with Catmull-Rom, horizontally then vertically,
// into new memory.
func resample(p plane, w, h int) plane {
	c := p.c
	if p.w == w && p.h == h {
		// Nothing to scale: copy into new memory.
		d := plane{make([]byte, w*c*h), w * c, w, h, c}
		for y := range h {
			copy(d.row(y), p.row(y))
		}
		return d
	}
	if p.w != w {
		t := makeTaps(p.w, w)
		d := plane{make([]byte, w*c*p.h), w * c, w, p.h, c}
		parallel(p.h, w*t.width, func(y0, y1 int) {
			y := y0
			if c == 1 {
				for ; y+4 <= y1; y += 4 {
					hrows4(&[4][]byte{d.row(y), d.row(y + 1), d.row(y + 2), d.row(y + 3)},
						&[4][]byte{p.row(y), p.row(y + 1), p.row(y + 2), p.row(y + 3)}, &t)
				}
			}
			for ; y < y1; y++ {
				hrow(d.row(y), p.row(y), &t, c)
			}
		})
		p = d
	}
	if p.h != h {
		t := makeTaps(p.h, h)
		d := plane{make([]byte, w*c*h), w * c, w, h, c}
		parallel(h, w*c*t.width, func(y0, y1 int) {
			acc := make([]int32, w*c)
			for y := y0; y < y1; y++ {
				clear(acc)
				s, n := t.start[y], t.n[y]
				for j, wt := range t.w[y*t.width : y*t.width+n] {
					row := p.row(s + j)
					row = row[:len(acc)]
					for i, v := range row {
						acc[i] += wt * int32(v)
					}
				}
				out := d.row(y)
				out = out[:len(acc)]
				for i, v := range acc {
					out[i] = clamp8(v)
				}
			}
		})
		p = d
	}
	return p
}

// hrow scales one row horizontally.
func hrow(dst, src []byte, t *taps, c int) {
	if c == 1 {
		for i := range dst {
			s, n := t.start[i], t.n[i]
			px := src[s : s+n]
			var a int32
			for j, wt := range t.w[i*t.width : i*t.width+n] {
				a += wt * int32(px[j])
			}
			dst[i] = clamp8(a)
		}
		return
	}
	for i := 0; i < len(dst)/4; i++ {
		s, n := t.start[i], t.n[i]
		px := src[s*4 : (s+n)*4]
		var a0, a1, a2, a3 int32
		for j, wt := range t.w[i*t.width : i*t.width+n] {
			q := px[j*4 : j*4+4 : j*4+4]
			a0 += wt * int32(q[0])
			a1 += wt * int32(q[1])
			a2 += wt * int32(q[2])
			a3 += wt * int32(q[3])
		}
		d := dst[i*4 : i*4+4 : i*4+4]
		d[0], d[1], d[2], d[3] = clamp8(a0), clamp8(a1), clamp8(a2), clamp8(a3)
	}
}

// hrows4 is hrow for four rows of one sample a pixel at once, which shares
// the weights' loads and the loop overhead between them.
func hrows4(dst, src *[4][]byte, t *taps) {
	d0, d1, d2, d3 := dst[0], dst[1], dst[2], dst[3]
	d1, d2, d3 = d1[:len(d0)], d2[:len(d0)], d3[:len(d0)]
	s0, s1, s2, s3 := src[0], src[1], src[2], src[3]
	s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
	for i := range d0 {
		s, n := t.start[i], t.n[i]
		ws := t.w[i*t.width : i*t.width+n]
		p0, p1, p2, p3 := s0[s:s+n], s1[s:s+n], s2[s:s+n], s3[s:s+n]
		var a0, a1, a2, a3 int32
		for j, wt := range ws {
			a0 += wt * int32(p0[j])
			a1 += wt * int32(p1[j])
			a2 += wt * int32(p2[j])
			a3 += wt * int32(p3[j])
		}
		d0[i], d1[i], d2[i], d3[i] = clamp8(a0), clamp8(a1), clamp8(a2), clamp8(a3)
	}
}

// parallel runs f over [0, n) split into contiguous ranges, one per CPU,
// when there is enough work (n rows of about perRow operations each) to
// pay for the goroutines.
func parallel(n, perRow int, f func(lo, hi int)) {
	workers := workersFor(n, perRow)
	if workers <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range workers {
		lo, hi := n*i/workers, n*(i+1)/workers
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}

// workersFor is the number of goroutines parallel uses for n rows of
// perRow operations; each may hold its own scratch row.
func workersFor(n, perRow int) int {
	const minWork = 1 << 16
	return max(min(runtime.GOMAXPROCS(0), n, max(n*perRow/minWork, 1)), 1)
}
