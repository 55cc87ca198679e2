package avatar

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// The pixel work runs on two concrete types only: *image.Gray for grey
// pictures and *image.RGBA (premultiplied alpha, so that scaling does not
// bleed the colour of transparent pixels) for everything else. Each
// function loops over Pix slices; nothing per pixel goes through the
// image.Image interface.

// maxBox bounds the box prefilter's factor so that a block's sum of
// 8-bit samples (maxBox² × 255) fits in a uint32.
const maxBox = 2048

// shrink returns the part r of img scaled to dw×dh as a new *image.Gray or
// *image.RGBA whose bounds start at (0, 0). It may change img's pixels
// (conversions are done in place where the layouts allow).
//
// Scaling is a box (area-average) filter by the largest integer factor k
// with k·d ≤ the source side, then Catmull-Rom over the remaining ratio,
// which is below 2. The box is exact and cheap; Catmull-Rom on the small
// rest keeps edges sharp without ringing much.
func shrink(img image.Image, r image.Rectangle, dw, dh int) image.Image {
	k := min(r.Dx()/dw, r.Dy()/dh, maxBox)
	var src image.Image
	switch m := img.(type) {
	case *image.YCbCr:
		if kk := chromaFactor(m, r, k); kk >= 2 {
			src, k = boxYCbCr(m, r, kk), 1
		} else {
			src = ycbcrToRGBA(m, r)
		}
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
	if k >= 2 {
		src = box(src, k)
	}
	return resample(src, dw, dh)
}

// chromaFactor returns the box factor to use on m's planes directly: k
// rounded down to a multiple of the chroma subsampling, or 0 when that is
// not possible (then the picture is converted to RGBA first).
func chromaFactor(m *image.YCbCr, r image.Rectangle, k int) int {
	sx, sy := subsampling(m.SubsampleRatio)
	if sx == 0 || (r.Min.X-m.Rect.Min.X)%sx != 0 || (r.Min.Y-m.Rect.Min.Y)%sy != 0 ||
		m.Rect.Min.X%sx != 0 || m.Rect.Min.Y%sy != 0 {
		return 0
	}
	s := max(sx, sy) // both are powers of two
	return k / s * s
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

// boxYCbCr box-filters each plane of m's part r by k (a multiple of the
// chroma subsampling, so chroma blocks line up with luma blocks) and
// converts the small result to RGBA.
func boxYCbCr(m *image.YCbCr, r image.Rectangle, k int) *image.RGBA {
	sx, sy := subsampling(m.SubsampleRatio)
	w, h := r.Dx(), r.Dy()
	y, dw, dh := box1(m.Y[m.YOffset(r.Min.X, r.Min.Y):], m.YStride, w, h, k, k)
	c0 := m.COffset(r.Min.X, r.Min.Y)
	cw, ch := (r.Max.X+sx-1)/sx-r.Min.X/sx, (r.Max.Y+sy-1)/sy-r.Min.Y/sy
	cb, cbw, cbh := box1(m.Cb[c0:], m.CStride, cw, ch, k/sx, k/sy)
	cr, _, _ := box1(m.Cr[c0:], m.CStride, cw, ch, k/sx, k/sy)
	d := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for j := range dh {
		cj := min(j, cbh-1)
		yrow := y[j*dw : (j+1)*dw]
		brow := cb[cj*cbw : (cj+1)*cbw]
		rrow := cr[cj*cbw : (cj+1)*cbw]
		out := d.Pix[j*d.Stride : j*d.Stride+dw*4]
		for i, yy := range yrow {
			ci := min(i, cbw-1)
			rr, gg, bb := color.YCbCrToRGB(yy, brow[ci], rrow[ci])
			o := out[i*4 : i*4+4 : i*4+4]
			o[0], o[1], o[2], o[3] = rr, gg, bb, 0xFF
		}
	}
	return d
}

// box1 averages kx×kyy blocks of a one-byte-per-sample plane of w×h. Blocks at the right and bottom edges may be partial;
// they average what they cover.
func box1(src []byte, stride, w, h, kx, kyy int) ([]byte, int, int) {
	dw, dh := (w+kx-1)/kx, (h+kyy-1)/kyy
	dst := make([]byte, dw*dh)
	acc := make([]uint32, dw)
	for oy := range dh {
		y0 := oy * kyy
		y1 := min(y0+kyy, h)
		clear(acc)
		for y := y0; y < y1; y++ {
			row := src[y*stride : y*stride+w]
			switch kx {
			case 1:
				for i, v := range row {
					acc[i] += uint32(v)
				}
			case 2:
				full := w / 2
				for i := range full {
					acc[i] += uint32(row[2*i]) + uint32(row[2*i+1])
				}
				if full < dw {
					acc[full] += uint32(row[2*full])
				}
			default:
				x := 0
				for i := range acc {
					x1 := min(x+kx, w)
					var s uint32
					for _, v := range row[x:x1] {
						s += uint32(v)
					}
					acc[i] += s
					x = x1
				}
			}
		}
		ny := uint32(y1 - y0)
		out := dst[oy*dw : (oy+1)*dw]
		full := uint32(kx) * ny
		for i, s := range acc {
			n := full
			if i == dw-1 {
				n = uint32(w-i*kx) * ny
			}
			out[i] = byte((s + n/2) / n)
		}
	}
	return dst, dw, dh
}

// box4 is box1 for four interleaved samples per pixel.
func box4(src []byte, stride, w, h, k int) ([]byte, int, int) {
	dw, dh := (w+k-1)/k, (h+k-1)/k
	dst := make([]byte, dw*dh*4)
	acc := make([]uint32, dw*4)
	for oy := range dh {
		y0 := oy * k
		y1 := min(y0+k, h)
		clear(acc)
		for y := y0; y < y1; y++ {
			row := src[y*stride : y*stride+w*4]
			x := 0
			for i := 0; i < len(acc); i += 4 {
				x1 := min(x+k, w)
				var s0, s1, s2, s3 uint32
				for p := x * 4; p < x1*4; p += 4 {
					px := row[p : p+4 : p+4]
					s0 += uint32(px[0])
					s1 += uint32(px[1])
					s2 += uint32(px[2])
					s3 += uint32(px[3])
				}
				a := acc[i : i+4 : i+4]
				a[0] += s0
				a[1] += s1
				a[2] += s2
				a[3] += s3
				x = x1
			}
		}
		ny := uint32(y1 - y0)
		out := dst[oy*dw*4 : (oy+1)*dw*4]
		full := uint32(k) * ny
		for i := 0; i < dw; i++ {
			n := full
			if i == dw-1 {
				n = uint32(w-i*k) * ny
			}
			for c := range 4 {
				out[i*4+c] = byte((acc[i*4+c] + n/2) / n)
			}
		}
	}
	return dst, dw, dh
}

// box reduces a *image.Gray or *image.RGBA by k in each direction.
func box(img image.Image, k int) image.Image {
	switch m := img.(type) {
	case *image.Gray:
		pix, w, h := box1(m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, m.Rect.Dx(), m.Rect.Dy(), k, k)
		return &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}
	case *image.RGBA:
		pix, w, h := box4(m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, m.Rect.Dx(), m.Rect.Dy(), k)
		return &image.RGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	}
	panic("avatar: box of unexpected type")
}

// Fixed-point precision of the resampling weights.
const (
	weightBits = 14
	weightOne  = 1 << weightBits
)

// taps holds, for each output position, the first source index and the
// weights of consecutive source samples that make it.
type taps struct {
	start []int
	n     []int
	w     []int32 // len(start) rows of width
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
// The kernel is stretched by the ratio when shrinking so that it also
// filters; samples beyond the edges repeat the edge sample.
func makeTaps(src, dst int) taps {
	scale := float64(src) / float64(dst)
	fs := max(scale, 1)
	support := 2 * fs
	width := int(math.Ceil(support))*2 + 1
	t := taps{start: make([]int, dst), n: make([]int, dst), w: make([]int32, dst*width), width: width}
	fw := make([]float64, width)
	for i := range dst {
		centre := (float64(i) + 0.5) * scale
		left := int(math.Floor(centre - support))
		// Fold the weights of samples beyond the edges onto the edge samples.
		clear(fw)
		lo, hi := max(left, 0), min(left+width, src)-1
		if hi < lo { // cannot happen for src ≥ 1, but be safe
			lo, hi = min(max(left, 0), src-1), min(max(left, 0), src-1)
		}
		var sum float64
		for j := left; j < left+width; j++ {
			wt := catmullRom((float64(j) + 0.5 - centre) / fs)
			if wt == 0 {
				continue
			}
			fw[min(max(j, lo), hi)-lo] += wt
			sum += wt
		}
		n := hi - lo + 1
		row := t.w[i*width : i*width+n]
		var isum, big int32
		bigAt := 0
		for j := range n {
			row[j] = int32(math.Round(fw[j] / sum * weightOne))
			isum += row[j]
			if row[j] > big {
				big, bigAt = row[j], j
			}
		}
		row[bigAt] += weightOne - isum // the weights sum to exactly one
		// Trim zero weights at both ends.
		for n > 1 && row[0] == 0 {
			copy(row, row[1:n])
			row[n-1] = 0
			n--
			lo++
		}
		for n > 1 && row[n-1] == 0 {
			n--
		}
		t.start[i], t.n[i] = lo, n
	}
	return t
}

func clamp8(v int32) byte {
	v = (v + weightOne/2) >> weightBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v)
}

// resample scales a *image.Gray or *image.RGBA to w×h with Catmull-Rom,
// horizontally then vertically. The result is always new memory.
func resample(img image.Image, w, h int) image.Image {
	var pix []byte
	var stride, sw, sh, c int
	switch m := img.(type) {
	case *image.Gray:
		pix, stride, c = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 1
	case *image.RGBA:
		pix, stride, c = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4
	default:
		panic("avatar: resample of unexpected type")
	}
	sw, sh = img.Bounds().Dx(), img.Bounds().Dy()

	// Horizontal pass: sh rows of w pixels.
	tmp, tstride := pix, stride
	if sw != w {
		tx := makeTaps(sw, w)
		tstride = w * c
		tmp = make([]byte, tstride*sh)
		for y := range sh {
			hrow(tmp[y*tstride:(y+1)*tstride], pix[y*stride:], &tx, c)
		}
	} else if sh == h {
		// Nothing to scale: copy.
		tstride = w * c
		tmp = make([]byte, tstride*h)
		for y := range h {
			copy(tmp[y*tstride:(y+1)*tstride], pix[y*stride:y*stride+w*c])
		}
	}

	// Vertical pass.
	out, ostride := tmp, tstride
	if sh != h {
		ty := makeTaps(sh, h)
		ostride = w * c
		out = make([]byte, ostride*h)
		acc := make([]int32, ostride)
		for y := range h {
			clear(acc)
			s, n := ty.start[y], ty.n[y]
			ws := ty.w[y*ty.width : y*ty.width+n]
			for j, wt := range ws {
				row := tmp[(s+j)*tstride : (s+j)*tstride+ostride]
				for i, v := range row {
					acc[i] += wt * int32(v)
				}
			}
			o := out[y*ostride : (y+1)*ostride]
			for i, v := range acc {
				o[i] = clamp8(v)
			}
		}
	}

	if c == 1 {
		return &image.Gray{Pix: out, Stride: ostride, Rect: image.Rect(0, 0, w, h)}
	}
	// Ringing may push a colour above its alpha; keep the premultiplied
	// invariant.
	for i := 0; i < len(out); i += 4 {
		p := out[i : i+4 : i+4]
		a := p[3]
		p[0], p[1], p[2] = min(p[0], a), min(p[1], a), min(p[2], a)
	}
	return &image.RGBA{Pix: out, Stride: ostride, Rect: image.Rect(0, 0, w, h)}
}

// hrow scales one row horizontally.
func hrow(dst, src []byte, t *taps, c int) {
	if c == 1 {
		for i := range dst {
			s, n := t.start[i], t.n[i]
			ws := t.w[i*t.width : i*t.width+n]
			px := src[s : s+n]
			var a int32
			for j, wt := range ws {
				a += wt * int32(px[j])
			}
			dst[i] = clamp8(a)
		}
		return
	}
	for i := 0; i < len(dst)/4; i++ {
		s, n := t.start[i], t.n[i]
		ws := t.w[i*t.width : i*t.width+n]
		px := src[s*4 : (s+n)*4]
		var a0, a1, a2, a3 int32
		for j, wt := range ws {
			p := px[j*4 : j*4+4 : j*4+4]
			a0 += wt * int32(p[0])
			a1 += wt * int32(p[1])
			a2 += wt * int32(p[2])
			a3 += wt * int32(p[3])
		}
		d := dst[i*4 : i*4+4 : i*4+4]
		d[0], d[1], d[2], d[3] = clamp8(a0), clamp8(a1), clamp8(a2), clamp8(a3)
	}
}

// orient applies an EXIF orientation (1–8) to a *image.Gray or *image.RGBA
// whose bounds start at (0, 0), returning new memory for anything but 1.
func orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	var pix []byte
	var stride, c int
	switch m := img.(type) {
	case *image.Gray:
		pix, stride, c = m.Pix, m.Stride, 1
	case *image.RGBA:
		pix, stride, c = m.Pix, m.Stride, 4
	default:
		panic("avatar: orient of unexpected type")
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	// Destination position as (ax·x + bx·y + cx, ay·x + by·y + cy).
	var ax, bx, cx, ay, by, cy int
	switch o {
	case 2: // mirror horizontally
		ax, cx, by = -1, w-1, 1
	case 3: // rotate 180°
		ax, cx, by, cy = -1, w-1, -1, h-1
	case 4: // mirror vertically
		ax, by, cy = 1, -1, h-1
	case 5: // transpose
		bx, ay = 1, 1
	case 6: // rotate 90° clockwise
		bx, cx, ay = -1, h-1, 1
	case 7: // transverse
		bx, cx, ay, cy = -1, h-1, -1, w-1
	case 8: // rotate 90° counter-clockwise
		bx, ay, cy = 1, -1, w-1
	}
	stepX := (ay*dw + ax) * c
	stepY := (by*dw + bx) * c
	base := (cy*dw + cx) * c
	dst := make([]byte, dw*dh*c)
	for y := range h {
		row := pix[y*stride : y*stride+w*c]
		d := base + y*stepY
		if c == 1 {
			for _, v := range row {
				dst[d] = v
				d += stepX
			}
		} else {
			for x := 0; x < len(row); x += 4 {
				copy(dst[d:d+4], row[x:x+4])
				d += stepX
			}
		}
	}
	r := image.Rect(0, 0, dw, dh)
	if c == 1 {
		return &image.Gray{Pix: dst, Stride: dw, Rect: r}
	}
	return &image.RGBA{Pix: dst, Stride: dw * 4, Rect: r}
}

// Conversions to the two working types. Each returns the part r only, with
// bounds starting at (0, 0) unless it is a view into m.

func ycbcrToRGBA(m *image.YCbCr, r image.Rectangle) *image.RGBA {
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(d, d.Rect, m, r.Min, draw.Src) // the standard library's YCbCr fast path
	return d
}

func gray16ToGray(m *image.Gray16, r image.Rectangle) *image.Gray {
	d := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		src := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):][:2*r.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+r.Dx()]
		for x := range dst {
			dst[x] = src[2*x]
		}
	}
	return d
}

// premultiply converts the part r of m to premultiplied alpha in place and
// returns it as a view.
func premultiply(m *image.NRGBA, r image.Rectangle) *image.RGBA {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := m.Pix[m.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for x := 0; x < len(row); x += 4 {
			p := row[x : x+4 : x+4]
			switch a := uint32(p[3]); a {
			case 0xFF:
			case 0:
				p[0], p[1], p[2] = 0, 0, 0
			default:
				p[0] = byte((uint32(p[0])*a + 127) / 255)
				p[1] = byte((uint32(p[1])*a + 127) / 255)
				p[2] = byte((uint32(p[2])*a + 127) / 255)
			}
		}
	}
	return (&image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}).SubImage(r).(*image.RGBA)
}

// cmykToRGBA converts the part r of m in place (both layouts are four bytes
// a pixel) and returns it as a view. The decoder has already undone Adobe's
// inversion; this is the same naive conversion as color.CMYKToRGB.
func cmykToRGBA(m *image.CMYK, r image.Rectangle) *image.RGBA {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := m.Pix[m.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for x := 0; x < len(row); x += 4 {
			p := row[x : x+4 : x+4]
			p[0], p[1], p[2] = color.CMYKToRGB(p[0], p[1], p[2], p[3])
			p[3] = 0xFF
		}
	}
	return (&image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}).SubImage(r).(*image.RGBA)
}

func palettedToRGBA(m *image.Paletted, r image.Rectangle) *image.RGBA {
	var lut [256][4]byte
	for i := range lut {
		lut[i] = [4]byte{0, 0, 0, 0xFF}
	}
	for i, c := range m.Palette {
		if i >= len(lut) {
			break
		}
		if c == nil {
			continue
		}
		cr, cg, cb, ca := c.RGBA()
		lut[i] = [4]byte{byte(cr >> 8), byte(cg >> 8), byte(cb >> 8), byte(ca >> 8)}
	}
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		src := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):][:r.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+4*r.Dx()]
		for x, v := range src {
			copy(dst[4*x:4*x+4], lut[v][:])
		}
	}
	return d
}

func rgba64ToRGBA(m *image.RGBA64, r image.Rectangle) *image.RGBA {
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		src := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):][:8*r.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+4*r.Dx()]
		for x := range r.Dx() {
			s := src[8*x : 8*x+8 : 8*x+8]
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = s[0], s[2], s[4], s[6]
		}
	}
	return d
}

func nrgba64ToRGBA(m *image.NRGBA64, r image.Rectangle) *image.RGBA {
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		src := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):][:8*r.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+4*r.Dx()]
		for x := range r.Dx() {
			s := src[8*x : 8*x+8 : 8*x+8]
			a := uint32(s[6])<<8 | uint32(s[7])
			for c := range 3 {
				v := uint32(s[2*c])<<8 | uint32(s[2*c+1])
				dst[4*x+c] = byte(v * a / 0xFFFF >> 8)
			}
			dst[4*x+3] = byte(a >> 8)
		}
	}
	return d
}

// opaqueRGBA reports whether every pixel of m has full alpha.
func opaqueRGBA(m *image.RGBA) bool {
	for y := range m.Rect.Dy() {
		row := m.Pix[y*m.Stride : y*m.Stride+4*m.Rect.Dx()]
		for x := 3; x < len(row); x += 4 {
			if row[x] != 0xFF {
				return false
			}
		}
	}
	return true
}

// unpremultiply returns m with straight alpha, for the PNG encoder.
func unpremultiply(m *image.RGBA) *image.NRGBA {
	d := image.NewNRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
	for y := range m.Rect.Dy() {
		src := m.Pix[y*m.Stride : y*m.Stride+4*m.Rect.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+4*m.Rect.Dx()]
		for x := 0; x < len(src); x += 4 {
			s := src[x : x+4 : x+4]
			o := dst[x : x+4 : x+4]
			switch a := uint32(s[3]); a {
			case 0xFF:
				o[0], o[1], o[2], o[3] = s[0], s[1], s[2], 0xFF
			case 0:
				o[0], o[1], o[2], o[3] = 0, 0, 0, 0
			default:
				o[0] = byte(min((uint32(s[0])*255+a/2)/a, 255))
				o[1] = byte(min((uint32(s[1])*255+a/2)/a, 255))
				o[2] = byte(min((uint32(s[2])*255+a/2)/a, 255))
				o[3] = byte(a)
			}
		}
	}
	return d
}
