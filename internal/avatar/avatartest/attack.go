package avatartest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"math/bits"
)

// The attack files below are small, well-formed pictures whose decoding
// costs far more memory or CPU than their size suggests. Each is the same
// for the same arguments.

// ProgressiveEOB returns a progressive JPEG of w×h pixels and comps
// components (1, 3 or 4; four carry an Adobe marker, as CMYK files do),
// each sampled at full resolution, whose only scans are one AC scan per
// component made of end-of-band runs. A few hundred bytes make the
// decoder allocate the planes and 256 bytes of coefficients for every 8×8
// block of every component: at 7000×7000 with four components, over a
// gigabyte.
func ProgressiveEOB(w, h, comps int) []byte {
	return progressive(w, h, comps, 0)
}

// RefinementScans is ProgressiveEOB with one component and n refinement
// scans of it after its first scan, each again nothing but end-of-band
// runs: every scan costs a few dozen bytes, yet makes the decoder walk
// every block once more. It has n+1 scans in all.
func RefinementScans(w, h, n int) []byte {
	return progressive(w, h, 1, n)
}

// MaxAcceptedScans returns the most work a w×h single-component JPEG may
// make the decoder do under the avatar package's bound: 8 scans, each a
// walk over every block, the last 7 refinements (the most expensive
// kind of visit).
func MaxAcceptedScans(w, h int) []byte { return RefinementScans(w, h, 7) }

func progressive(w, h, comps, refinements int) []byte {
	b := []byte{0xFF, 0xD8}
	seg := func(marker byte, body ...byte) {
		b = append(b, 0xFF, marker)
		b = binary.BigEndian.AppendUint16(b, uint16(2+len(body)))
		b = append(b, body...)
	}
	if comps == 4 {
		// Adobe, version 100, flags 0, 0, transform 0 (CMYK).
		seg(0xEE, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0)
	}
	q := append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)
	seg(0xDB, q...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(comps)}
	for i := range comps {
		sof = append(sof, byte(i+1), 0x11, 0)
	}
	seg(0xC2, sof...)
	// AC table 0: the fifteen end-of-band symbols EOB0–EOB14, four bits each.
	dht := []byte{0x10}
	counts := make([]byte, 16)
	counts[3] = 15
	dht = append(dht, counts...)
	for r := range 15 {
		dht = append(dht, byte(r<<4))
	}
	seg(0xC4, dht...)
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	scan := func(comp int, ah, al byte) {
		seg(0xDA, 1, byte(comp+1), 0x00, 1, 63, ah<<4|al)
		b = append(b, eobRuns(blocks)...)
	}
	for c := range comps {
		scan(c, 0, 1)
	}
	for range refinements {
		scan(0, 1, 0)
	}
	return append(b, 0xFF, 0xD9)
}

// eobRuns codes n blocks as end-of-band runs of at most 32767 with the
// table progressive writes, with byte stuffing, padded with ones.
func eobRuns(n int) []byte {
	var out []byte
	var acc uint64
	var nb uint
	put := func(v uint64, k uint) {
		acc = acc<<k | v&(1<<k-1)
		nb += k
		for nb >= 8 {
			c := byte(acc >> (nb - 8))
			out = append(out, c)
			if c == 0xFF {
				out = append(out, 0)
			}
			nb -= 8
		}
	}
	for n > 0 {
		run := min(n, 1<<15-1)
		r := uint(bits.Len(uint(run)) - 1)
		put(uint64(r), 4) // canonical codes: symbol r has code r
		put(uint64(run-1<<r), r)
		n -= run
	}
	if nb > 0 {
		put(1<<(8-nb)-1, 8-nb)
	}
	return out
}

// DeepInterlacedPNG returns an Adam7-interlaced 16-bit RGBA PNG of w×h
// pixels, all transparent black, which compresses to about a thousandth
// of its raw size. The decoder holds the picture at eight bytes a pixel
// and each pass beside it: at 7071×7071, some 800 MB from 400 KB.
func DeepInterlacedPNG(w, h int) []byte {
	var raw bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&raw, zlib.BestCompression)
	// The pass sizes of Adam7; every row is a zero filter byte and zeros.
	zero := make([]byte, 1+8*w)
	for _, p := range [7][4]int{{8, 8, 0, 0}, {8, 8, 4, 0}, {4, 8, 0, 4}, {4, 4, 2, 0}, {2, 4, 0, 2}, {2, 2, 1, 0}, {1, 2, 0, 1}} {
		pw, ph := (w-p[2]+p[0]-1)/p[0], (h-p[3]+p[1]-1)/p[1]
		if pw <= 0 || ph <= 0 {
			continue
		}
		for range ph {
			zw.Write(zero[:1+8*pw])
		}
	}
	zw.Close()
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 16, 6, 0, 0, 1) // depth 16, RGBA, interlaced
	b := []byte("\x89PNG\r\n\x1a\n")
	b = pngChunk(b, "IHDR", ihdr)
	b = pngChunk(b, "IDAT", raw.Bytes())
	return pngChunk(b, "IEND", nil)
}

func pngChunk(b []byte, typ string, body []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, typ...)
	b = append(b, body...)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(body)
	return binary.BigEndian.AppendUint32(b, crc.Sum32())
}

// StripPNG returns a grey PNG of w×1 pixels, made by image/png: at
// 50,000,000 pixels wide, some 50 KB. Scaling such a strip to an avatar's
// size by its short side would need tables as long as the strip.
func StripPNG(w int) []byte {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, image.NewGray(image.Rect(0, 0, w, 1))); err != nil {
		panic(err) // a grey picture always encodes
	}
	return buf.Bytes()
}
