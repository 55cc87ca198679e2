package avatar

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// addCorpus seeds f with every file in testdata/, so the seeds also run in
// a plain go test.
func addCorpus(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if fi, err := os.Stat(name); err != nil || fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// fuzzLimits keep the fuzzer's inputs cheap; the code paths are the same.
var fuzzLimits = Limits{MaxPixels: 1 << 20, MaxFrames: 64, MaxSide: 48}

// checkOutput verifies an accepted output with the standard decoders.
func checkOutput(t *testing.T, out Image, side int) {
	t.Helper()
	if f, ok := Sniff(out.Data); !ok || f != out.Format {
		t.Fatalf("output sniffs as %v, %v, want %v", f, ok, out.Format)
	}
	if out.Width < 1 || out.Height < 1 || out.Width > side || out.Height > side || out.Frames < 1 {
		t.Fatalf("output is %d×%d with %d frames, want 1..%d a side", out.Width, out.Height, out.Frames, side)
	}
	r := bytes.NewReader(out.Data)
	switch out.Format {
	case JPEG:
		cfg, err := jpeg.DecodeConfig(r)
		if err != nil || cfg.Width != out.Width || cfg.Height != out.Height {
			t.Fatalf("output JPEG config = %+v, %v", cfg, err)
		}
		_, err = jpeg.Decode(bytes.NewReader(out.Data))
		if err != nil {
			t.Fatalf("output JPEG: %v", err)
		}
	case PNG:
		m, err := png.Decode(r)
		if err != nil || m.Bounds().Dx() != out.Width || m.Bounds().Dy() != out.Height {
			t.Fatalf("output PNG: %v", err)
		}
	case GIF:
		g, err := gif.DecodeAll(r)
		if err != nil || len(g.Image) != out.Frames || g.Config.Width != out.Width || g.Config.Height != out.Height {
			t.Fatalf("output GIF: %v", err)
		}
	}
	if err := checkStructure(out.Data, out.Format); err != nil {
		t.Fatalf("output structure: %v", err)
	}
}

// FuzzProcess: any input is either refused with a *RejectError or turned
// into a well-formed picture of the same format within the limits, whose
// renditions work too. Nothing panics and nothing is an internal error.
func FuzzProcess(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Process(data, fuzzLimits)
		if err != nil {
			var re *RejectError
			if !errors.As(err, &re) || re.Reason == "" {
				t.Fatalf("Process() = %v, want a picture or a *RejectError", err)
			}
			return
		}
		if isWebP(data) {
			if out.Format != PNG && out.Format != JPEG {
				t.Fatalf("Process(WebP) format = %v, want PNG or JPEG", out.Format)
			}
		} else if f, _ := Sniff(data); f != out.Format {
			t.Fatalf("Process() format = %v, input sniffs as %v", out.Format, f)
		}
		checkOutput(t, out, fuzzLimits.MaxSide)
		// Stored output is again acceptable, as it is.
		again, err := Process(out.Data, fuzzLimits)
		if err != nil {
			t.Fatalf("Process(output) = %v", err)
		}
		if again.Width != out.Width || again.Height != out.Height || again.Frames != out.Frames {
			t.Fatalf("Process(output) = %d×%d×%d, want %d×%d×%d", again.Width, again.Height, again.Frames, out.Width, out.Height, out.Frames)
		}
		r, err := RenditionWithLimits(out.Data, 16, fuzzLimits)
		if err != nil {
			t.Fatalf("Rendition(output) = %v", err)
		}
		checkOutput(t, r, 16)
		if r.Width != r.Height || r.Format != out.Format || r.Frames != out.Frames {
			t.Fatalf("Rendition(output) = %v %d×%d×%d, want a square %v of %d frames", r.Format, r.Width, r.Height, r.Frames, out.Format, out.Frames)
		}
	})
}

// FuzzRendition runs renditions straight on arbitrary bytes, as happens if
// stored data is damaged.
func FuzzRendition(f *testing.F) {
	addCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := RenditionWithLimits(data, 24, fuzzLimits)
		if err != nil {
			var re *RejectError
			if !errors.As(err, &re) {
				t.Fatalf("Rendition() = %v, want a picture or a *RejectError", err)
			}
			return
		}
		checkOutput(t, r, 24)
		if r.Width != r.Height {
			t.Fatalf("Rendition() = %d×%d, want a square", r.Width, r.Height)
		}
	})
}

// FuzzJPEGOrientation: the EXIF reader takes anything and answers 1–8; an
// Exif body wrapped into a JPEG gives the same answer as read directly.
func FuzzJPEGOrientation(f *testing.F) {
	addCorpus(f)
	f.Add(exifOrientation(6, binary.BigEndian)[6:])
	f.Add(exifOrientation(8, binary.LittleEndian)[6:])
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("jpegOrientation() = %d", o)
		}
		if len(data) > 65000 {
			return
		}
		o := tiffOrientation(data)
		if o < 1 || o > 8 {
			t.Fatalf("tiffOrientation() = %d", o)
		}
		jpg := insertExif([]byte{0xFF, 0xD8, 0xFF, 0xD9}, append([]byte("Exif\x00\x00"), data...))
		if got := jpegOrientation(jpg); got != o {
			t.Fatalf("jpegOrientation(wrapped) = %d, tiffOrientation() = %d", got, o)
		}
	})
}
