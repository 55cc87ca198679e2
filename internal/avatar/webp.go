package avatar

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"

	"golang.org/x/image/webp"
)

// WebP is read, never written: the standard library and x/image have no
// WebP encoder. What the bitstream keeps decides what Roster stores: a
// lossless (VP8L) or transparent picture becomes PNG, a lossy opaque one
// JPEG. An animated WebP is refused: the decoder reads stills only.

// IsWebP reports whether data is a RIFF container of the WEBP form.
func IsWebP(data []byte) bool { return isWebP(data) }

// DecodeWebP decodes a still WebP as browsers show it (lossy planes in full
// range), for measuring what Roster writes; uploads go through Process.
func DecodeWebP(data []byte) (image.Image, error) {
	var m image.Image
	if err := guard(func() (err error) { m, err = webp.Decode(bytes.NewReader(data)); return err }); err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *image.YCbCr:
		fullRange(m)
	case *image.NYCbCrA:
		fullRange(&m.YCbCr)
	}
	return m, nil
}

// isWebP reports whether data is a RIFF container of the WEBP form.
func isWebP(data []byte) bool {
	return len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP"
}

// webpInfo is what a WebP's chunk headers say before any pixel is decoded.
type webpInfo struct {
	width, height int
	lossless      bool  // the picture is a VP8L bitstream
	alpha         bool  // an ALPH chunk, or any VP8L (decoded with alpha)
	alphaLossless bool  // the ALPH chunk is itself VP8L-compressed
	animated      bool  // the VP8X animation flag, or ANIM/ANMF chunks
	chunk         int64 // the length of the VP8 or VP8L chunk
}

// stored is the format a WebP of this kind is kept in.
func (w webpInfo) stored() Format {
	if w.lossless || w.alpha {
		return PNG
	}
	return JPEG
}

// walkWebP reads the chunk headers up to the image bitstream. It trusts
// nothing: every length is checked against the data.
func walkWebP(data []byte) (webpInfo, error) {
	var w webpInfo
	var canvasW, canvasH int
	for pos := 12; ; {
		if pos+8 > len(data) {
			if w.animated {
				return w, errAnimatedWebP()
			}
			return w, errCorrupt()
		}
		id := string(data[pos : pos+4])
		n := int64(binary.LittleEndian.Uint32(data[pos+4:]))
		body := int64(pos) + 8
		if body+n > int64(len(data)) {
			if w.animated || id == "ANIM" || id == "ANMF" {
				return w, errAnimatedWebP()
			}
			return w, errCorrupt()
		}
		b := data[body : body+n]
		switch id {
		case "VP8X":
			if len(b) < 10 {
				return w, errCorrupt()
			}
			w.animated = w.animated || b[0]&0x02 != 0
			canvasW = 1 + (int(b[4]) | int(b[5])<<8 | int(b[6])<<16)
			canvasH = 1 + (int(b[7]) | int(b[8])<<8 | int(b[9])<<16)
		case "ANIM", "ANMF":
			w.animated = true
		case "ALPH":
			w.alpha = true
			w.alphaLossless = len(b) > 0 && b[0]&0x03 == 1
		case "VP8 ":
			if w.animated {
				return w, errAnimatedWebP()
			}
			// A 3-byte frame tag, the start code 9d 01 2a, then two
			// 14-bit sides each with a 2-bit scale above them.
			if len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
				return w, errCorrupt()
			}
			w.width = int(binary.LittleEndian.Uint16(b[6:]) & 0x3fff)
			w.height = int(binary.LittleEndian.Uint16(b[8:]) & 0x3fff)
			w.chunk = n
			return w, sameCanvas(w, canvasW, canvasH)
		case "VP8L":
			if w.animated {
				return w, errAnimatedWebP()
			}
			// The signature 0x2f, then 14 bits each of width−1 and
			// height−1, least significant first.
			if len(b) < 5 || b[0] != 0x2f {
				return w, errCorrupt()
			}
			v := binary.LittleEndian.Uint32(b[1:])
			w.width, w.height = 1+int(v&0x3fff), 1+int(v>>14&0x3fff)
			w.lossless, w.alpha, w.chunk = true, true, n
			return w, sameCanvas(w, canvasW, canvasH)
		}
		pos = int(body + n + n&1)
	}
}

// sameCanvas refuses a bitstream whose size is not the canvas's, as the
// decoder does.
func sameCanvas(w webpInfo, cw, ch int) error {
	if cw != 0 && (cw != w.width || ch != w.height) {
		return errCorrupt()
	}
	return nil
}

func errAnimatedWebP() error {
	return &RejectError{Reason: "image is an animated WebP, which is not supported; upload an animated GIF or a still WebP"}
}

// checkWebP is everything known about a WebP before decoding it.
func checkWebP(data []byte, lim Limits) (webpInfo, error) {
	w, err := walkWebP(data)
	if err != nil {
		return w, err
	}
	if err := checkSize(w.width, w.height, lim); err != nil {
		return w, err
	}
	if err := checkAspect(w.width, w.height); err != nil {
		return w, err
	}
	// The decoder's own reading of the header must agree.
	var cfg image.Config
	if err := guard(func() (err error) { cfg, err = webp.DecodeConfig(bytes.NewReader(data)); return err }); err != nil {
		return w, errCorrupt()
	}
	if cfg.Width != w.width || cfg.Height != w.height {
		return w, errCorrupt()
	}
	return w, nil
}

// processWebP decodes a still WebP and stores it as PNG or JPEG. Metadata
// chunks (EXIF, XMP, ICCP) are never read, and an EXIF orientation is not
// applied: encoders write WebP pixels upright.
func processWebP(data []byte, lim Limits, p plan) (Image, error) {
	w, err := checkWebP(data, lim)
	if err != nil {
		return Image{}, err
	}
	var img image.Image
	if err := guard(func() (err error) { img, err = webp.Decode(bytes.NewReader(data)); return err }); err != nil {
		return Image{}, errCorrupt()
	}
	if b := img.Bounds(); b.Dx() != w.width || b.Dy() != w.height || b.Min != (image.Point{}) {
		return Image{}, errCorrupt()
	}
	switch m := img.(type) {
	case *image.YCbCr:
		fullRange(m)
	case *image.NYCbCrA:
		fullRange(&m.YCbCr)
		img = nycbcraToRGBA(m)
	}
	return finishStill(img, w.stored(), 1, p)
}

// fullRange turns the planes of a lossy WebP, which VP8 codes in the
// limited ("video") range of BT.601 — luma 16–235, chroma 16–240 — into
// the full range image.YCbCr means (JPEG's), in place. x/image/webp hands
// the planes over as they are (golang/go#40173), so without this every
// lossy WebP would be stored with lifted blacks, dimmed whites and weaker
// colours than any browser shows it with.
func fullRange(m *image.YCbCr) {
	for i, v := range m.Y {
		m.Y[i] = lumaFull[v]
	}
	for i, v := range m.Cb {
		m.Cb[i] = chromaFull[v]
	}
	for i, v := range m.Cr {
		m.Cr[i] = chromaFull[v]
	}
}

// lumaFull and chromaFull map limited-range samples to full range:
// (Y−16)·255/219 and (C−128)·255/224 + 128, rounded and clamped.
var lumaFull, chromaFull = rangeTables()

func rangeTables() (luma, chroma [256]byte) {
	for v := range 256 {
		luma[v] = clampByte(roundDiv(int64(v-16)*255, 219))
		chroma[v] = clampByte(128 + roundDiv(int64(v-128)*255, 224))
	}
	return luma, chroma
}

// roundDiv is a/b rounded half away from zero, for b > 0.
func roundDiv(a, b int64) int64 {
	if a < 0 {
		return -((-a*2 + b) / (b * 2))
	}
	return (a*2 + b) / (b * 2)
}

func clampByte(v int64) byte {
	return byte(min(max(v, 0), 255))
}

// nycbcraToRGBA converts a lossy picture with an alpha plane to
// premultiplied RGBA: the colour through the standard library's YCbCr fast
// path, then the alpha applied.
func nycbcraToRGBA(m *image.NYCbCrA) *image.RGBA {
	r := m.Rect
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(d, d.Rect, &m.YCbCr, r.Min, draw.Src)
	for y := range r.Dy() {
		row := d.Pix[y*d.Stride : y*d.Stride+4*r.Dx()]
		as := m.A[m.AOffset(r.Min.X, r.Min.Y+y):][:r.Dx()]
		for x, a := range as {
			q := row[4*x : 4*x+4 : 4*x+4]
			q[3] = a
			if a != 0xFF {
				A := uint32(a)
				q[0] = byte((uint32(q[0])*A + 127) / 255)
				q[1] = byte((uint32(q[1])*A + 127) / 255)
				q[2] = byte((uint32(q[2])*A + 127) / 255)
			}
		}
	}
	return d
}

// Decoder costs of golang.org/x/image/vp8l, from its source: every Huffman
// group holds five trees of at most 2n−1 eight-byte nodes for an alphabet
// of n symbols (280 plus a colour cache of up to 2048 for green, 256 for
// red, blue and alpha, 40 for distances) and a 512-byte lookup table each,
// the largest node slice rounded up to whole pages; building each tree
// allocates two slices of four bytes a symbol that are garbage at once.
// Each transform and entropy image brings groups of its own (at most four). A bitstream
// may decode up to 2600 groups, and how many it has is only known once the
// entropy image, itself compressed, is decoded: the estimate counts them
// all, or as many as the chunk has bits for (each group takes at least 20).
const (
	vp8lMaxGroups  = 2600
	vp8lGroupCost  = (2*(280+2048)-1+3*(2*256-1)+2*40-1)*8 + (280+2048+3*256+40)*8 + 5*(24+512) + 8<<10
	vp8lGroupBits  = 20
	vp8lFixedCost  = 64 << 10 // the decoder, its bufio.Reader, sub-image trees
	vp8MBCost      = 32       // per macroblock: filter parameters and row state
	webpFixedCost  = 64 << 10 // the RIFF reader and decoder structs
	vp8lTilesShift = 2        // the smallest tile of a transform or entropy image
)

// vp8lCost bounds what vp8l.Decode allocates for a w×h picture from a
// chunk of n bytes: the pixels (twice with a colour-indexing transform),
// the transform and entropy images, and the Huffman groups.
func vp8lCost(w, h int, n int64) int64 {
	W, H := int64(w), int64(h)
	tiles := ((W + 3) >> vp8lTilesShift) * ((H + 3) >> vp8lTilesShift)
	groups := min(int64(vp8lMaxGroups), 8*n/vp8lGroupBits+1) + 4
	return vp8lFixedCost + 2*4*W*H + 3*4*tiles + groups*vp8lGroupCost
}

// webpCost is ProcessCost for a WebP.
func webpCost(data []byte, lim Limits, p plan) (int64, error) {
	w, err := checkWebP(data, lim)
	if err != nil {
		return 0, err
	}
	W, H := int64(w.width), int64(w.height)
	n := int64(fixedCost + webpFixedCost)
	k := decodedAs{kind: kRGBA}
	if w.lossless {
		n += vp8lCost(w.width, w.height, w.chunk)
	} else {
		// Planes padded to whole macroblocks, per-macroblock state, and
		// the partitions read whole.
		mbw, mbh := (W+15)/16, (H+15)/16
		n += 16*mbw*16*mbh + 2*8*mbw*8*mbh + vp8MBCost*mbw*mbh + 2*w.chunk
		k = decodedAs{kind: kYCbCr, sx: 2, sy: 2}
		if w.alpha {
			n += W * H
			if w.alphaLossless {
				n += vp8lCost(w.width, w.height, int64(len(data))) + W*H
			}
			n += 4 * W * H // the conversion to RGBA
			k = decodedAs{kind: kRGBA}
		}
	}
	return n + pipelineCost(k, w.width, w.height, w.stored(), p, 1), nil
}
