package avatar

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"strings"
	"testing"
)

// TestProcessWebP: every kind of WebP the corpus has (testdata/gen-webp.sh)
// comes out in the format decided for it, with its picture and none of its
// metadata; an animated or truncated one is refused with a reason.
func TestProcessWebP(t *testing.T) {
	lossy := readTestdata(t, "lossy.webp")
	tests := []struct {
		name   string
		data   []byte
		format Format // zero: refused
		reason string // part of the refusal's reason
		check  func(*testing.T, decoded)
	}{
		{"lossy", lossy, JPEG, "", sceneCheck},
		{"lossless", readTestdata(t, "lossless.webp"), PNG, "", sceneCheck},
		{"lossy with alpha", readTestdata(t, "alpha.webp"), PNG, "", alphaCheck},
		{"with EXIF, XMP and ICC", readTestdata(t, "meta.webp"), JPEG, "", sceneCheck},
		{"animated", readTestdata(t, "anim.webp"), 0, "animated WebP", nil},
		{"truncated", lossy[:len(lossy)/2], 0, "truncated or corrupt", nil},
		{"container only", lossy[:20], 0, "truncated or corrupt", nil},
	}
	for _, m := range []string{"ROSTER-EXIF-MARKER", "ROSTER-XMP-MARKER", "ROSTER-ICC-MARKER"} {
		if !bytes.Contains(tests[3].data, []byte(m)) {
			t.Fatalf("meta.webp does not carry %q", m)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Process(tt.data, Limits{})
			if tt.format == 0 {
				var re *RejectError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, tt.reason) {
					t.Fatalf("Process(%s) = %v, want a refusal saying %q", tt.name, err, tt.reason)
				}
				if _, err := ProcessCost(tt.data, Limits{}); !errors.As(err, &re) {
					t.Errorf("ProcessCost(%s) = %v, want the same refusal", tt.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Process(%s) = %v, want a picture", tt.name, err)
			}
			if got := [3]int{int(out.Format), out.Width, out.Height}; got != [3]int{int(tt.format), 200, 150} {
				t.Errorf("Process(%s) = format, w, h %v, want %v 200×150", tt.name, got, tt.format)
			}
			d := decodeOutput(t, out)
			// The markers meta.webp's metadata carries, and the container's
			// names (the corpus's other secrets are not in these files, and
			// three-letter ones turn up in compressed data by chance).
			for _, m := range []string{"ROSTER", "Exif", "xmpmeta", "RIFF", "WEBP", "EXIF", "ICCP", "XMP "} {
				if bytes.Contains(out.Data, []byte(m)) {
					t.Errorf("Process(%s) output contains %q", tt.name, m)
				}
			}
			tt.check(t, d)
		})
	}
}

// TestWalkWebP reads the chunk headers of hand-made containers.
func TestWalkWebP(t *testing.T) {
	chunk := func(id string, body ...byte) []byte {
		b := append([]byte(id), byte(len(body)), byte(len(body)>>8), 0, 0)
		b = append(b, body...)
		if len(body)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	riff := func(chunks ...[]byte) []byte {
		body := []byte("WEBP")
		for _, c := range chunks {
			body = append(body, c...)
		}
		n := len(body)
		return append([]byte{'R', 'I', 'F', 'F', byte(n), byte(n >> 8), 0, 0}, body...)
	}
	// 300×200 lossy, 300×200 lossless; a 300×200 canvas.
	vp8 := chunk("VP8 ", 0, 0, 0, 0x9d, 0x01, 0x2a, 300&0xff, 300>>8, 200, 0)
	vp8l := chunk("VP8L", 0x2f, 299&0xff, 299>>8|(199&0x3)<<6, 199>>2, 0)
	canvas := func(flags byte) []byte { return chunk("VP8X", flags, 0, 0, 0, 299&0xff, 299>>8, 0, 199, 0, 0) }
	tests := []struct {
		name string
		data []byte
		want webpInfo
		err  string
	}{
		{"lossy", riff(vp8), webpInfo{width: 300, height: 200, chunk: 10}, ""},
		{"lossless", riff(vp8l), webpInfo{width: 300, height: 200, lossless: true, alpha: true, chunk: 5}, ""},
		{"alpha", riff(canvas(0x10), chunk("ALPH", 1, 2, 3), vp8), webpInfo{width: 300, height: 200, alpha: true, alphaLossless: true, chunk: 10}, ""},
		{"metadata skipped", riff(canvas(0x08), chunk("EXIF", 'x'), vp8), webpInfo{width: 300, height: 200, chunk: 10}, ""},
		{"animation flag", riff(canvas(0x02), vp8), webpInfo{}, "animated"},
		{"ANMF chunk", riff(canvas(0), chunk("ANIM", 0, 0, 0, 0, 0, 0), chunk("ANMF", 1)), webpInfo{}, "animated"},
		{"canvas disagrees", riff(chunk("VP8X", 0, 0, 0, 0, 9, 0, 0, 9, 0, 0), vp8), webpInfo{}, "corrupt"},
		{"chunk past the end", riff(vp8)[:25], webpInfo{}, "corrupt"},
		{"no bitstream", riff(canvas(0)), webpInfo{}, "corrupt"},
	}
	for _, tt := range tests {
		got, err := walkWebP(tt.data)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("walkWebP(%s) = %v, want an error saying %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("walkWebP(%s) = %+v, %v, want %+v", tt.name, got, err, tt.want)
		}
	}
}

// TestProcessWebPBudget: the pixel budget is checked from the header.
func TestProcessWebPBudget(t *testing.T) {
	for _, f := range []string{"lossy.webp", "lossless.webp", "alpha.webp"} {
		data := readTestdata(t, f)
		lim := Limits{MaxPixels: 200*150 - 1}
		_, err := Process(data, lim)
		var re *RejectError
		if !errors.As(err, &re) || !strings.Contains(re.Reason, "megapixels") {
			t.Errorf("Process(%s, %d pixels) = %v, want the pixel budget's refusal", f, lim.MaxPixels, err)
		}
		if _, err := ProcessCost(data, lim); !errors.As(err, &re) {
			t.Errorf("ProcessCost(%s, %d pixels) = %v, want the pixel budget's refusal", f, lim.MaxPixels, err)
		}
	}
}

// TestWebPColours: a lossy WebP is stored with the colours a browser shows
// it with. VP8 codes its planes in BT.601's limited range; read as
// full-range YCbCr (as x/image/webp hands them over), blacks are lifted to
// 16 and whites dimmed to 235, which this test tells from lossy coding's own
// error (about 5 against under 2 on average, per channel, in this corpus).
func TestWebPColours(t *testing.T) {
	tests := []struct{ webp, source string }{
		{"lossy.webp", "baseline.jpg"},
		{"alpha.webp", "alpha.png"},
	}
	for _, tt := range tests {
		t.Run(tt.webp, func(t *testing.T) {
			out, err := Process(readTestdata(t, tt.webp), Limits{})
			if err != nil {
				t.Fatalf("Process(%s) = %v", tt.webp, err)
			}
			got := decodeOutput(t, out).img
			want, _, err := image.Decode(bytes.NewReader(readTestdata(t, tt.source)))
			if err != nil {
				t.Fatalf("decoding %s: %v", tt.source, err)
			}
			if e := meanError(got, want); e > 3 {
				t.Errorf("stored %s differs from %s by %.1f a channel on average, want at most 3", tt.webp, tt.source, e)
			}
		})
	}
}

// meanError is the mean absolute difference of a and b's 8-bit channels
// over the pixels both show opaque.
func meanError(a, b image.Image) float64 {
	var sum float64
	var n int
	r := a.Bounds().Intersect(b.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca, cb := color.NRGBAModel.Convert(a.At(x, y)).(color.NRGBA), color.NRGBAModel.Convert(b.At(x, y)).(color.NRGBA)
			if ca.A != 0xFF || cb.A != 0xFF {
				continue
			}
			for _, d := range [3]int{int(ca.R) - int(cb.R), int(ca.G) - int(cb.G), int(ca.B) - int(cb.B)} {
				sum += math.Abs(float64(d))
			}
			n += 3
		}
	}
	return sum / float64(n)
}
