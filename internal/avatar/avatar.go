// Package avatar turns uploaded pictures into the bytes Roster stores, and
// stored pictures into square renditions.
//
// Everything here is a pure function of its arguments: no I/O, no globals,
// limits come in as parameters. The pipeline is sniff → bound → decode →
// scale → orient → encode (scaling first, so the turn moves few pixels):
//
//   - The format comes from the bytes, never from a declared type or a file
//     name; only JPEG, PNG, GIF and still WebP are understood, and only the
//     standard library's image/jpeg, image/png and image/gif decoders and
//     golang.org/x/image/webp are linked in (called directly, never through
//     image.Decode's registry). A WebP is stored as PNG when it is lossless
//     or transparent and as JPEG otherwise; WebP is written only for the
//     WebP variants of renditions (see RenditionVariants), by libwebp inside
//     a WebAssembly sandbox.
//   - Headers are read before any pixel buffer is allocated: dimensions, and
//     for a GIF every frame, are checked against Limits first.
//   - The output is always re-encoded with the standard encoders, so nothing
//     of the upload but its pixels survives: no EXIF, XMP, IPTC, comments,
//     PNG text chunks, GIF extensions other than the loop count, and nothing
//     after the image's end. ICC colour profiles are dropped too: they can
//     name the device that made the picture, and almost every avatar is sRGB
//     already; a wide-gamut photo comes out slightly less saturated.
package avatar

import (
	"errors"
	"fmt"
	"strconv"
)

// Format is an image format Roster stores. The zero value is no format.
type Format int

// The formats Roster stores (a WebP upload is stored as PNG or JPEG).
const (
	JPEG Format = iota + 1
	PNG
	GIF
	// WebP is written only as a variant of JPEG and PNG renditions, for
	// clients that accept it; nothing is stored in it.
	WebP
)

// String returns the format's name, e.g. "JPEG".
func (f Format) String() string {
	switch f {
	case JPEG:
		return "JPEG"
	case PNG:
		return "PNG"
	case GIF:
		return "GIF"
	case WebP:
		return "WebP"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Ext returns the file name extension Roster stores the format under.
func (f Format) Ext() string {
	switch f {
	case JPEG:
		return ".jpg"
	case PNG:
		return ".png"
	case GIF:
		return ".gif"
	case WebP:
		return ".webp"
	}
	return ""
}

// MIME returns the format's media type, for Content-Type.
func (f Format) MIME() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case GIF:
		return "image/gif"
	case WebP:
		return "image/webp"
	}
	return ""
}

// FormatOfExt returns the format a stored file name's extension stands for.
// It knows exactly what Ext returns for the stored formats (not WebP, which
// nothing is stored in), plus ".jpeg".
func FormatOfExt(ext string) (Format, bool) {
	switch ext {
	case ".jpg", ".jpeg":
		return JPEG, true
	case ".png":
		return PNG, true
	case ".gif":
		return GIF, true
	}
	return 0, false
}

// Sniff returns the stored format of data judged by its magic number alone.
// It says nothing about whether the rest of data decodes. A WebP is none of
// them: Process reads it and stores it as PNG or JPEG.
func Sniff(data []byte) (Format, bool) {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return JPEG, true
	case len(data) >= 8 && string(data[:8]) == "\x89PNG\r\n\x1a\n":
		return PNG, true
	case len(data) >= 6 && (string(data[:6]) == "GIF87a" || string(data[:6]) == "GIF89a"):
		return GIF, true
	}
	return 0, false
}

// Limits bound the work one picture may cause. A zero or negative field
// means its default (see DefaultLimits).
type Limits struct {
	// MaxPixels is the pixel budget over all frames. A GIF frame costs the
	// whole logical screen (width × height), whatever the size of its own
	// rectangle: every frame is composited onto a canvas of that size, and
	// the standard decoder refuses frames that do not fit in it, so this is
	// both the work done and an upper bound on the memory the frames take.
	MaxPixels int64
	// MaxFrames is the largest number of GIF frames accepted.
	MaxFrames int
	// MaxSide is the long side of the stored picture; larger originals are
	// scaled down to it, smaller ones are kept as they are.
	MaxSide int
}

// DefaultLimits returns the limits of SPEC §4: 50 megapixels, 500 frames,
// 1024 pixels on the long side.
func DefaultLimits() Limits {
	return Limits{MaxPixels: 50_000_000, MaxFrames: 500, MaxSide: 1024}
}

func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.MaxPixels <= 0 {
		l.MaxPixels = d.MaxPixels
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = d.MaxFrames
	}
	if l.MaxSide <= 0 {
		l.MaxSide = d.MaxSide
	}
	return l
}

// Image is an encoded picture: what Roster stores or serves.
type Image struct {
	Data   []byte
	Format Format
	// Width and Height are the picture's size as a viewer shows it.
	Width, Height int
	// Frames is 1 for a still picture and the number of frames of an
	// animated GIF.
	Frames int
}

// RejectError means the bytes are refused, for a reason a person can read.
// It is the uploader's fault (Navixy code 234, Reason in the errors list);
// any other error from this package is an internal failure.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return "avatar: " + e.Reason }

func reject(format string, args ...any) error {
	return &RejectError{Reason: fmt.Sprintf(format, args...)}
}

// The reasons that are not built from numbers. Each call makes a new
// error, so that no caller can change another's.
func errNotImage() error { return &RejectError{Reason: "not a JPEG, PNG, GIF or WebP image"} }
func errCorrupt() error  { return &RejectError{Reason: "image data is truncated or corrupt"} }
func errEmpty() error    { return &RejectError{Reason: "image has no pixels"} }

// megapixels formats a pixel count for people: 50000000 → "50".
func megapixels(n int64) string {
	return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64)
}

// checkSize refuses a still picture of w×h pixels over the budget.
func checkSize(w, h int, lim Limits) error {
	if w <= 0 || h <= 0 {
		return errEmpty()
	}
	if int64(w)*int64(h) > lim.MaxPixels {
		return reject("image is %d×%d pixels; the limit is %s megapixels", w, h, megapixels(lim.MaxPixels))
	}
	return nil
}

// maxAspect bounds the ratio of a picture's long side to its short side.
// Panoramas reach about 20:1; beyond 100:1 a picture is no avatar, and a
// long thin strip makes the scaler's buffers grow with its long side while
// its pixel count stays small.
const maxAspect = 100

// checkAspect refuses a w×h picture more elongated than maxAspect.
func checkAspect(w, h int) error {
	if long, short := max(w, h), min(w, h); short > 0 && int64(long) > maxAspect*int64(short) {
		return reject("image is %d×%d pixels; the long side may be at most %d times the short one", w, h, maxAspect)
	}
	return nil
}

// Process turns uploaded bytes into the bytes Roster stores: the same
// format (a WebP as PNG when lossless or transparent, else JPEG), at most
// lim.MaxSide on the long side, EXIF orientation applied,
// animation and transparency kept, every piece of metadata gone.
//
// A *RejectError means data is not acceptable; any other error is an
// internal failure.
func Process(data []byte, lim Limits) (Image, error) {
	lim = lim.orDefault()
	return run(data, lim, plan{side: lim.MaxSide})
}

// Rendition makes a square, centre-cropped rendition of at most size×size
// pixels of a stored image (an output of Process), in the same format; an
// animated GIF stays animated. It never scales up: a picture whose short
// side is below size gives a rendition of that side.
//
// Stored bytes are checked like uploads, against DefaultLimits; use
// RenditionWithLimits when Process ran with larger ones.
func Rendition(data []byte, size int) (Image, error) {
	return RenditionWithLimits(data, size, DefaultLimits())
}

// RenditionWithLimits is Rendition with the pixel and frame budgets of lim
// (lim.MaxSide plays no part).
func RenditionWithLimits(data []byte, size int, lim Limits) (Image, error) {
	if size < 1 {
		return Image{}, fmt.Errorf("avatar: rendition size %d is not positive", size)
	}
	return run(data, lim.orDefault(), plan{side: size, square: true})
}

// RenditionVariants is Rendition and, made from the same pixels, the
// rendition's WebP variant: for a JPEG the smallest lossy WebP as good as
// the JPEG by SSIM (within 0.005), for a PNG a lossless one. webp is the
// zero Image when WebP would not be smaller, for a GIF (which keeps its
// animation), and above MaxWebPSide.
//
// When only the WebP encoder fails, stored is the rendition all the same
// and err is a *WebPError: the variant is what the caller gives up, not the
// rendition.
func RenditionVariants(data []byte, size int, lim Limits) (stored, webp Image, err error) {
	if size < 1 {
		return Image{}, Image{}, fmt.Errorf("avatar: rendition size %d is not positive", size)
	}
	var werr error
	stored, err = run(data, lim.orDefault(), plan{side: size, square: true, webp: &webp, webpErr: &werr})
	if err == nil && werr != nil {
		return stored, Image{}, &WebPError{werr}
	}
	return stored, webp, err
}

// WebPError is RenditionVariants' error when the rendition was made but
// its WebP variant could not be.
type WebPError struct{ Err error }

func (e *WebPError) Error() string { return "avatar: encoding the WebP variant: " + e.Err.Error() }
func (e *WebPError) Unwrap() error { return e.Err }

// plan says what geometry the output gets.
type plan struct {
	side   int    // the output's long side is at most this
	square bool   // crop the centred square first
	webp   *Image // if set, a still's WebP variant goes here
	// webpErr, set with webp, receives the WebP encoder's failure, which
	// does not fail the rendition.
	webpErr *error
}

func run(data []byte, lim Limits, p plan) (Image, error) {
	if isWebP(data) {
		return processWebP(data, lim, p)
	}
	f, ok := Sniff(data)
	if !ok {
		return Image{}, errNotImage()
	}
	if f == GIF {
		return processGIF(data, lim, p)
	}
	return processStill(data, f, lim, p)
}

// errInternal marks failures that are not the input's fault.
var errInternal = errors.New("avatar: internal error")
