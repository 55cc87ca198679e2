package avatar

import (
	"encoding/binary"
	"fmt"
	"image"
)

// The cost model follows every allocation Process and Rendition make, from
// the headers alone: what the standard decoders allocate for the format,
// bit depth, colour type, sampling factors, progressive coefficients,
// interlacing passes and GIF frames; then the conversions, box filter,
// resampling passes and their tables, the turn, and the encoder with its
// growing output buffer. It counts every allocation as if none were ever
// freed, so it bounds the heap Process grows by even with the collector
// off, and it is tested against that (TestCostBoundsAllocation) on real
// pictures of every kind; for lossless WebP, whose number of entropy-code
// groups is known only inside the bitstream, it counts the most the
// decoder allows and is tested only as a lower bound.

// Fixed costs, measured on the standard library's decoders and encoders
// (decoder structs, zlib, LZW and Huffman state, bufio buffers, palettes)
// with about a third more for rounding to allocation size classes.
const (
	fixedCost     = 192 << 10 // the decoder, small images, headers
	pngEncodeCost = 1 << 20   // the flate compressor of png.Encoder
	gifFrameCost  = 128 << 10 // per GIF frame: LZW reader and writer, palettes, quantizer maps
	gifQuantCost  = 1<<20 + 256<<10 + 128<<10 + 16<<10
	// median cut's histogram and bin list, the cell table, small slices
)

// jpegBlockOut is what image/jpeg writes at most for one 8×8 block at
// quality 85 in practice: three times what uniform random pixels, the
// least compressible input, cost (32 bytes; see TestJPEGBlockOut). The
// theoretical worst (every coefficient at its longest code, every byte
// stuffed) is about 400; nothing near it comes out of a scaled picture.
const jpegBlockOut = 100

// ProcessCost estimates, from the headers alone, the most memory in bytes
// that Process(data, lim) holds at once: an upper bound on its heap growth.
// It refuses what Process would refuse before decoding (not an image, over
// the pixel budget, too elongated, too much JPEG work) with the same
// *RejectError, so a caller can reserve memory before any pixel is decoded.
func ProcessCost(data []byte, lim Limits) (int64, error) {
	lim = lim.orDefault()
	return cost(data, lim, plan{side: lim.MaxSide})
}

// RenditionCost is ProcessCost for RenditionWithLimits(data, size, lim).
func RenditionCost(data []byte, size int, lim Limits) (int64, error) {
	if size < 1 {
		return 0, fmt.Errorf("avatar: rendition size %d is not positive", size)
	}
	return cost(data, lim.orDefault(), plan{side: size, square: true})
}

// RenditionVariantsCost is ProcessCost for RenditionVariants(data, size,
// lim): the rendition's, plus what making its WebP variant allocates (see
// webpVariantCost). The encoder's one-time compilation is not in it:
// WarmWebP pays that at start-up.
func RenditionVariantsCost(data []byte, size int, lim Limits) (int64, error) {
	n, err := RenditionCost(data, size, lim)
	if err != nil {
		return 0, err
	}
	f, _ := Sniff(data)
	if f == GIF || size > MaxWebPSide {
		return n, nil
	}
	// The rendition is never larger than the picture's short side.
	var w, h int
	if isWebP(data) {
		info, err := walkWebP(data)
		if err != nil {
			return 0, err
		}
		w, h = info.width, info.height
	} else {
		cfg, err := decodeConfig(data, f)
		if err != nil {
			return 0, err
		}
		w, h = cfg.Width, cfg.Height
	}
	return n + webpVariantCost(f, min(size, w, h)), nil
}

// webpVariantCost bounds what webpVariant allocates for a rendition of at
// most side×side pixels stored as f (a WebP original may become either),
// measured on gen2brain/webp's libwebp in wazero (TestCostBoundsAllocation):
// each encode runs in a fresh sandbox whose memory grows to about 1 MB and
// 56 bytes a pixel for a lossy picture, up to 4 MB and 260 bytes a pixel for a
// lossless one; a JPEG's search makes up to webpEncodes of them and scores
// each against the reference with SSIM planes of eight bytes a pixel.
func webpVariantCost(f Format, side int) int64 {
	px := int64(side) * int64(side)
	lossless := 4<<20 + 260*px
	lossy := webpEncodes*(1<<20+66*px) + 100*px
	switch f {
	case PNG:
		return lossless
	case JPEG:
		return lossy
	}
	return max(lossless, lossy)
}

func cost(data []byte, lim Limits, p plan) (int64, error) {
	if isWebP(data) {
		return webpCost(data, lim, p)
	}
	f, ok := Sniff(data)
	if !ok {
		return 0, errNotImage()
	}
	if f == GIF {
		return gifCost(data, lim, p)
	}
	cfg, err := decodeConfig(data, f)
	if err != nil {
		return 0, err
	}
	if err := checkSize(cfg.Width, cfg.Height, lim); err != nil {
		return 0, err
	}
	if err := checkAspect(cfg.Width, cfg.Height); err != nil {
		return 0, err
	}
	var dec int64
	var k decodedAs
	if f == JPEG {
		fr := walkJPEG(data)
		if err := checkJPEGWork(&fr); err != nil {
			return 0, err
		}
		dec, k = jpegDecodeCost(&fr)
		return fixedCost + dec + pipelineCost(k, cfg.Width, cfg.Height, f, p, jpegOrientation(data)), nil
	}
	dec, k = pngDecodeCost(data, cfg.Width, cfg.Height)
	return fixedCost + dec + pipelineCost(k, cfg.Width, cfg.Height, f, p, 1), nil
}

// decodedAs is the concrete type a decoder returns, as far as cost goes.
type decodedAs struct {
	kind   int // one of the k* constants
	sx, sy int // a YCbCr's chroma subsampling
}

const (
	kGray = iota
	kGray16
	kRGBA // also NRGBA: four bytes, converted in place
	kCMYK // converted in place too, but never encoded as it came
	kPaletted
	kDeep // RGBA64 and NRGBA64: converted to new RGBA
	kYCbCr
)

// jpegDecodeCost is what image/jpeg allocates for the frame: the planes
// padded to whole MCUs, a fourth plane for CMYK, the coefficients of a
// progressive frame, and the interleaved copy for RGB and CMYK.
func jpegDecodeCost(f *jpegFrame) (int64, decodedAs) {
	h0, v0 := f.h[0], f.v[0]
	mxx := int64((f.width + 8*h0 - 1) / (8 * h0))
	myy := int64((f.height + 8*v0 - 1) / (8 * v0))
	pw, ph := 8*int64(h0)*mxx, 8*int64(v0)*myy
	var n int64
	k := decodedAs{kind: kGray}
	if f.nComp == 1 {
		n = pw * ph
	} else {
		sx, sy := max(h0/f.h[1], 1), max(v0/f.v[1], 1)
		switch sx<<4 | sy {
		case 0x11, 0x12, 0x21, 0x22, 0x41, 0x42:
		default:
			sx, sy = 1, 1 // not a ratio the decoder takes; count the largest
		}
		cw, ch := (pw+int64(sx)-1)/int64(sx), (ph+int64(sy)-1)/int64(sy)
		n = pw*ph + 2*cw*ch
		k = decodedAs{kind: kYCbCr, sx: sx, sy: sy}
		rgb := !f.jfif && (f.adobe && f.adobeXform == 0 || f.ids[0] == 'R' && f.ids[1] == 'G' && f.ids[2] == 'B')
		if f.nComp == 4 {
			n += 64 * int64(f.h[3]) * mxx * int64(f.v[3]) * myy
		}
		switch {
		case f.nComp == 4:
			n += 4 * int64(f.width) * int64(f.height)
			k = decodedAs{kind: kCMYK}
		case rgb:
			n += 4 * int64(f.width) * int64(f.height)
			k = decodedAs{kind: kRGBA}
		}
	}
	if f.progressive {
		for i := range f.nComp {
			if f.scanned[i] {
				n += 256 * mxx * myy * int64(f.h[i]*f.v[i])
			}
		}
	}
	return n, k
}

// pngDecodeCost is what image/png allocates: the picture in the type its
// colour type, bit depth and transparency give, two rows of filtered bytes,
// and for an interlaced file the seven passes as pictures of their own.
func pngDecodeCost(data []byte, w, h int) (int64, decodedAs) {
	depth, ctype, interlaced := int(data[24]), data[25], data[28] == 1
	trns := pngHasTRNS(data)
	var bits, bpp int
	var k decodedAs
	switch ctype {
	case 0:
		bits, bpp, k = depth, 1, decodedAs{kind: kGray}
		if depth == 16 {
			bpp, k = 2, decodedAs{kind: kGray16}
		}
		if trns {
			bpp, k = 4*bpp, decodedAs{kind: kRGBA}
			if depth == 16 {
				bpp, k = 8, decodedAs{kind: kDeep}
			}
		}
	case 2:
		bits, bpp, k = 3*depth, 4, decodedAs{kind: kRGBA}
	case 3:
		bits, bpp, k = depth, 1, decodedAs{kind: kPaletted}
	case 4:
		bits, bpp, k = 2*depth, 4, decodedAs{kind: kRGBA}
	default:
		bits, bpp, k = 4*depth, 4, decodedAs{kind: kRGBA}
	}
	if depth == 16 && ctype != 0 {
		bpp, k = 8, decodedAs{kind: kDeep}
	}
	pass := func(pw, ph int64) int64 {
		if pw <= 0 || ph <= 0 {
			return 0
		}
		return int64(bpp)*pw*ph + 2*(1+(int64(bits)*pw+7)/8)
	}
	W, H := int64(w), int64(h)
	if !interlaced {
		return pass(W, H), k
	}
	n := int64(bpp) * W * H
	for _, p := range [7][4]int64{{8, 8, 0, 0}, {8, 8, 4, 0}, {4, 8, 0, 4}, {4, 4, 2, 0}, {2, 4, 0, 2}, {2, 2, 1, 0}, {1, 2, 0, 1}} {
		n += pass((W-p[2]+p[0]-1)/p[0], (H-p[3]+p[1]-1)/p[1])
	}
	return n, k
}

// pngHasTRNS reports whether a tRNS chunk comes before the image data.
func pngHasTRNS(data []byte) bool {
	for pos := 8; pos+8 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[pos:]))
		switch string(data[pos+4 : pos+8]) {
		case "tRNS":
			return true
		case "IDAT":
			return false
		}
		next := int64(pos) + 12 + n
		if next > int64(len(data)) {
			return false
		}
		pos = int(next)
	}
	return false
}

// pipelineCost is what processStill allocates after decoding a w×h picture
// of kind k: conversion, scaling, the turn and the encoder.
func pipelineCost(k decodedAs, w, h int, f Format, p plan, o int) int64 {
	r, dw, dh := p.geometry(w, h)
	if r == image.Rect(0, 0, w, h) && dw == w && dh == h && (o < 2 || o > 8) && kindAsIs(k, f) {
		return encodeCost(k.kind == kGray, w, h, f)
	}
	rw, rh := r.Dx(), r.Dy()
	var n int64
	gray := false
	switch k.kind {
	case kYCbCr:
		cx0, cy0 := r.Min.X/k.sx, r.Min.Y/k.sy
		cw, ch := (r.Max.X+k.sx-1)/k.sx-cx0, (r.Max.Y+k.sy-1)/k.sy-cy0
		n = scaleCost(rw, rh, 1, dw, dh) + 2*scaleCost(cw, ch, 1, (dw+1)/2, (dh+1)/2)
	case kGray, kGray16:
		gray = true
		if k.kind == kGray16 {
			n = int64(rw) * int64(rh)
		}
		n += scaleCost(rw, rh, 1, dw, dh)
	case kRGBA, kCMYK:
		n = scaleCost(rw, rh, 4, dw, dh)
	default:
		n = 4*int64(rw)*int64(rh) + scaleCost(rw, rh, 4, dw, dh)
	}
	if o >= 2 && o <= 8 {
		n += outBytes(k.kind == kYCbCr, gray, dw, dh)
	}
	return n + encodeCost(gray, dw, dh, f)
}

// kindAsIs is encodesAsIs for a kind.
func kindAsIs(k decodedAs, f Format) bool {
	switch k.kind {
	case kYCbCr:
		return f == JPEG
	case kGray, kRGBA, kPaletted:
		return true
	}
	return false
}

// outBytes is the size of a dw×dh working picture: 4:2:0 YCbCr, grey or
// RGBA.
func outBytes(ycbcr, gray bool, dw, dh int) int64 {
	a := int64(dw) * int64(dh)
	switch {
	case ycbcr:
		return a + 2*int64((dw+1)/2)*int64((dh+1)/2)
	case gray:
		return a
	}
	return 4 * a
}

// encodeCost bounds what encoding a dw×dh picture allocates, its output
// counted four times: a bytes.Buffer that doubles as it grows has
// allocated less than twice its final capacity, which is less than twice
// its length.
func encodeCost(gray bool, dw, dh int, f Format) int64 {
	W, H := int64(dw), int64(dh)
	if f == JPEG {
		blocks := (W + 15) / 16 * ((H + 15) / 16) * 6
		if gray {
			blocks = (W + 7) / 8 * ((H + 7) / 8)
		}
		return 4 * (blocks*jpegBlockOut + 1024)
	}
	bpp := int64(4)
	if gray {
		bpp = 1
	}
	raw := H * (1 + bpp*W)
	n := pngEncodeCost + 6*(1+bpp*W) // the filter rows
	if !gray {
		n += 4 * W * H // straight alpha for the encoder
	}
	return n + 4*(raw+raw/256+4096)
}

// scaleCost is what scale allocates for a w×h plane of c samples a pixel
// scaled to dw×dh.
func scaleCost(w, h, c, dw, dh int) int64 {
	var n int64
	C := int64(c)
	if k := min(w/dw, h/dh, maxBox); k >= 2 {
		bw, bh := (w+k-1)/k, (h+k-1)/k
		n += int64(bw)*int64(bh)*C + int64(workersFor(bh, w*k))*int64(w)*C*4
		w, h = bw, bh
	}
	if w == dw && h == dh {
		return n + int64(dw)*int64(dh)*C
	}
	if w != dw {
		t, _ := tapsCost(w, dw)
		n += t + int64(dw)*C*int64(h)
	}
	if h != dh {
		t, width := tapsCost(h, dh)
		n += t + int64(dw)*C*int64(dh) + int64(workersFor(dh, dw*c*width))*int64(dw)*C*4
	}
	return n
}

// tapsCost is what makeTaps(src, dst) allocates, and its row width.
func tapsCost(src, dst int) (int64, int) {
	t := makeTapsWidth(src, dst)
	return int64(dst)*(8+8+4*int64(t)) + 8*int64(t), t
}

// gifCost is what processGIF allocates: the decoded frames (twice for an
// interlaced one), and either the re-encoded frames or the composition —
// canvas, saved canvas, every frame scaled and quantized — and its output.
func gifCost(data []byte, lim Limits, p plan) (int64, error) {
	g, err := walkGIF(data)
	if err != nil {
		return 0, err
	}
	if err := checkGIF(g, lim); err != nil {
		return 0, err
	}
	frames := int64(g.frames)
	n := fixedCost + g.pixels + g.interlaced + frames*gifFrameCost
	crop, dw, dh := p.geometry(g.width, g.height)
	out := g.pixels
	if crop != image.Rect(0, 0, g.width, g.height) || dw != g.width || dh != g.height {
		screen := 4 * int64(g.width) * int64(g.height)
		n += screen + gifQuantCost + 2*int64(candRoom(dw*dh))
		if g.restores {
			n += screen
		}
		per := scaleCost(crop.Dx(), crop.Dy(), 4, dw, dh) + int64(dw)*int64(dh)
		n += frames*per + frames*17
		out = frames * int64(dw) * int64(dh)
	}
	// LZW writes at most 12 bits a pixel, plus sub-block lengths and a
	// colour table and headers a frame.
	return n + 4*(out*3/2+out/255+frames*1024+1024), nil
}
