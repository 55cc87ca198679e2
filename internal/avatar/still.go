package avatar

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
)

// Encoder settings.
//
// JPEG quality 85: on a 1024-pixel photo-like avatar it is two thirds of
// the size of quality 90 and 40% of quality 95 (see BenchmarkJPEGQuality),
// and its artefacts are not visible at avatar sizes. The encoder always
// writes 4:2:0 baseline.
//
// PNG pictures above 256×256 pixels use png.BestSpeed: on 1024-pixel
// avatars it is about three times faster than png.DefaultCompression and
// 9–17% larger (see BenchmarkPNGLevels), and an upload is answered while
// the client waits. Smaller ones, such as most renditions, use the default
// level, which costs them well under a millisecond more.
const (
	jpegQuality    = 85
	pngSmallPixels = 256 * 256
)

// guard runs a decoder, turning a panic into the corrupt-data refusal: the
// standard decoders are well fuzzed, but an upload must never take the
// server down.
func guard(f func() error) (err error) {
	defer func() {
		if recover() != nil {
			err = errCorrupt()
		}
	}()
	return f()
}

// decodeError turns a decoder's error into a refusal. Every error a decoder
// returns is about its input.
func decodeError(err error) error {
	var re *RejectError
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	switch {
	case errors.As(err, &re):
		return err
	case errors.As(err, &ju):
		return reject("image uses a JPEG feature that is not supported (%s)", string(ju))
	case errors.As(err, &pu):
		return reject("image uses a PNG feature that is not supported (%s)", string(pu))
	}
	return errCorrupt()
}

func decodeConfig(data []byte, f Format) (image.Config, error) {
	var cfg image.Config
	err := guard(func() (err error) {
		if f == JPEG {
			cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
		} else {
			cfg, err = png.DecodeConfig(bytes.NewReader(data))
		}
		return err
	})
	if err != nil {
		return cfg, decodeError(err)
	}
	return cfg, nil
}

func processStill(data []byte, f Format, lim Limits, p plan) (Image, error) {
	// Check before spending: the header alone, then the budget.
	cfg, err := decodeConfig(data, f)
	if err != nil {
		return Image{}, err
	}
	if err := checkSize(cfg.Width, cfg.Height, lim); err != nil {
		return Image{}, err
	}
	if err := checkAspect(cfg.Width, cfg.Height); err != nil {
		return Image{}, err
	}
	if f == JPEG {
		fr := walkJPEG(data)
		if err := checkJPEGWork(&fr); err != nil {
			return Image{}, err
		}
		// The decoder sees no scan the walk did not count.
		data = data[:fr.end]
	}

	var img image.Image
	err = guard(func() (err error) {
		if f == JPEG {
			img, err = jpeg.Decode(bytes.NewReader(data))
		} else {
			img, err = png.Decode(bytes.NewReader(data))
		}
		return err
	})
	if err != nil {
		return Image{}, decodeError(err)
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return Image{}, errCorrupt()
	}

	o := 1
	if f == JPEG {
		o = jpegOrientation(data)
	}
	return finishStill(img, f, o, p)
}

// finishStill scales, turns by EXIF orientation o and encodes a decoded
// picture whose bounds start at (0, 0), as f.
func finishStill(img image.Image, f Format, o int, p plan) (Image, error) {
	b := img.Bounds()
	r, dw, dh := p.geometry(b.Dx(), b.Dy())
	var out image.Image
	if r == b && dw == b.Dx() && dh == b.Dy() && o == 1 && encodesAsIs(img, f) {
		out = img
	} else {
		out = orient(shrink(img, r, dw, dh), o)
	}

	var buf bytes.Buffer
	if err := encodeStill(&buf, out, f); err != nil {
		return Image{}, fmt.Errorf("%w: encoding %v: %v", errInternal, f, err)
	}
	ob := out.Bounds()
	stored := Image{Data: buf.Bytes(), Format: f, Width: ob.Dx(), Height: ob.Dy(), Frames: 1}
	if p.webp != nil {
		*p.webp, *p.webpErr = webpVariant(out, stored)
	}
	return stored, nil
}

// encodesAsIs reports whether a decoded picture that needs no geometry
// change can go to the encoder unconverted (and as well as it came).
func encodesAsIs(img image.Image, f Format) bool {
	switch img.(type) {
	case *image.YCbCr:
		return f == JPEG
	case *image.Paletted, *image.NRGBA:
		return f == PNG
	case *image.Gray, *image.RGBA:
		return true
	}
	return false
}

func encodeStill(w io.Writer, img image.Image, f Format) error {
	if f == JPEG {
		return jpeg.Encode(w, img, &jpeg.Options{Quality: jpegQuality})
	}
	if m, ok := img.(*image.RGBA); ok && !opaqueRGBA(m) {
		// The encoder would unpremultiply pixel by pixel through the
		// color interfaces; hand it straight alpha instead.
		img = unpremultiply(m)
	}
	level := png.BestSpeed
	if b := img.Bounds(); b.Dx()*b.Dy() <= pngSmallPixels {
		level = png.DefaultCompression
	}
	enc := png.Encoder{CompressionLevel: level}
	return enc.Encode(w, img)
}

// geometry returns the part of a w×h picture to keep and the size to scale
// it to, in the picture's stored orientation (a quarter turn swaps width
// and height but not the long side, and a centred square stays centred).
func (p plan) geometry(w, h int) (r image.Rectangle, dw, dh int) {
	r = image.Rect(0, 0, w, h)
	if p.square {
		s := min(w, h)
		x0, y0 := (w-s)/2, (h-s)/2
		d := min(s, p.side)
		return image.Rect(x0, y0, x0+s, y0+s), d, d
	}
	if max(w, h) <= p.side {
		return r, w, h
	}
	if w >= h {
		return r, p.side, scaleSide(h, p.side, w)
	}
	return r, scaleSide(w, p.side, h), p.side
}

// scaleSide returns round(a·num/den), at least 1.
func scaleSide(a, num, den int) int {
	return max(1, int((int64(a)*int64(num)+int64(den)/2)/int64(den)))
}
