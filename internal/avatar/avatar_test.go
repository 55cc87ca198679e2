package avatar

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decoded is an output read back with the standard decoders.
type decoded struct {
	img  image.Image // the first frame of a GIF
	anim *gif.GIF    // GIF only
}

// decodeOutput reads an Image back, checking that its bytes are what it
// says it is and carry nothing but pixels.
func decodeOutput(t *testing.T, out Image) decoded {
	t.Helper()
	if f, ok := Sniff(out.Data); !ok || f != out.Format {
		t.Fatalf("Sniff(output) = %v, %v, want %v", f, ok, out.Format)
	}
	if err := checkStructure(out.Data, out.Format); err != nil {
		t.Errorf("output structure: %v", err)
	}
	var d decoded
	var err error
	switch out.Format {
	case JPEG:
		d.img, err = jpeg.Decode(bytes.NewReader(out.Data))
	case PNG:
		d.img, err = png.Decode(bytes.NewReader(out.Data))
	case GIF:
		d.anim, err = gif.DecodeAll(bytes.NewReader(out.Data))
		if err == nil {
			d.img = d.anim.Image[0]
			if got := len(d.anim.Image); got != out.Frames {
				t.Errorf("output has %d frames, Image.Frames = %d", got, out.Frames)
			}
			if c := d.anim.Config; c.Width != out.Width || c.Height != out.Height {
				t.Errorf("output screen is %d×%d, Image says %d×%d", c.Width, c.Height, out.Width, out.Height)
			}
		}
	}
	if err != nil {
		t.Fatalf("decoding output: %v", err)
	}
	if out.Format != GIF {
		if b := d.img.Bounds(); b.Dx() != out.Width || b.Dy() != out.Height {
			t.Errorf("output is %d×%d, Image says %d×%d", b.Dx(), b.Dy(), out.Width, out.Height)
		}
		if out.Frames != 1 {
			t.Errorf("Image.Frames = %d for a still picture", out.Frames)
		}
	}
	return d
}

// checkStructure walks an output's blocks and allows only those that carry
// pixels: no APPn or COM segments, no ancillary chunks but tRNS, no GIF
// extensions but graphic control and the NETSCAPE loop, and nothing after
// the end.
func checkStructure(data []byte, f Format) error {
	switch f {
	case JPEG:
		pos := 2
		for {
			if pos+4 > len(data) || data[pos] != 0xFF {
				return fmt.Errorf("no marker at %d", pos)
			}
			m := data[pos+1]
			switch {
			case m == 0xDB || m == 0xC0 || m == 0xC4: // DQT, SOF0, DHT
			case m == 0xDA: // SOS: entropy-coded data up to EOI
				i := bytes.Index(data[pos:], []byte{0xFF, 0xD9})
				if i < 0 {
					return errors.New("no EOI")
				}
				if end := pos + i + 2; end != len(data) {
					return fmt.Errorf("%d bytes after EOI", len(data)-end)
				}
				return nil
			default:
				return fmt.Errorf("marker %#x at %d", m, pos)
			}
			pos += 2 + int(binary.BigEndian.Uint16(data[pos+2:]))
		}
	case PNG:
		pos := 8
		for pos+12 <= len(data) {
			n := int(binary.BigEndian.Uint32(data[pos:]))
			kind := string(data[pos+4 : pos+8])
			switch kind {
			case "IHDR", "PLTE", "tRNS", "IDAT":
			case "IEND":
				if end := pos + 12 + n; end != len(data) {
					return fmt.Errorf("%d bytes after IEND", len(data)-end)
				}
				return nil
			default:
				return fmt.Errorf("chunk %q", kind)
			}
			pos += 12 + n
		}
		return errors.New("no IEND")
	case GIF:
		exts, end, err := gifExtensions(data)
		if err != nil {
			return err
		}
		if end != len(data) {
			return fmt.Errorf("%d bytes after the trailer", len(data)-end)
		}
		for _, e := range exts {
			if e != "graphic control" && e != "NETSCAPE2.0" {
				return fmt.Errorf("extension %q", e)
			}
		}
	}
	return nil
}

// gifExtensions walks a GIF's blocks and names its extensions: "graphic
// control", "comment", "plain text", or an application's identifier. It
// returns the offset just past the trailer.
func gifExtensions(data []byte) ([]string, int, error) {
	if len(data) < 13 {
		return nil, 0, errors.New("short header")
	}
	pos := 13
	if data[10]&0x80 != 0 {
		pos += 3 << (1 + data[10]&7)
	}
	skip := func() error { // data sub-blocks
		for {
			if pos >= len(data) {
				return errors.New("truncated sub-blocks")
			}
			n := int(data[pos])
			pos += 1 + n
			if n == 0 {
				return nil
			}
		}
	}
	var exts []string
	for pos < len(data) {
		switch data[pos] {
		case 0x21:
			if pos+2 >= len(data) {
				return nil, 0, errors.New("truncated extension")
			}
			label := data[pos+1]
			pos += 2
			switch label {
			case 0xF9:
				exts = append(exts, "graphic control")
			case 0xFE:
				exts = append(exts, "comment")
			case 0x01:
				exts = append(exts, "plain text")
			case 0xFF:
				n := int(data[pos])
				if pos+1+n > len(data) {
					return nil, 0, errors.New("truncated application extension")
				}
				exts = append(exts, string(data[pos+1:pos+1+n]))
				pos += 1 + n
			default:
				exts = append(exts, fmt.Sprintf("%#x", label))
			}
			if err := skip(); err != nil {
				return nil, 0, err
			}
		case 0x2C:
			if pos+10 > len(data) {
				return nil, 0, errors.New("truncated image descriptor")
			}
			flags := data[pos+9]
			pos += 10
			if flags&0x80 != 0 {
				pos += 3 << (1 + flags&7)
			}
			pos++ // LZW minimum code size
			if err := skip(); err != nil {
				return nil, 0, err
			}
		case 0x3B:
			return exts, pos + 1, nil
		default:
			return nil, 0, fmt.Errorf("block %#x at %d", data[pos], pos)
		}
	}
	return nil, 0, errors.New("no trailer")
}

// secrets are the identifying strings the corpus carries; none may be
// found in an output.
var secrets = []string{
	"GPS", "SN8472019365", "RosterCam", "RC-1", "2021:03:04", "secret", "Jane Roe",
	"Exif", "JFIF", "tEXt", "zTXt", "iTXt", "eXIf", "iCCP", "XMP", "x:xmpmeta", "xpacket",
	"Photoshop", "8BIM", "ICC_PROFILE", "ROSTERXY", "<html", "payload", "script",
}

func checkNoSecrets(t *testing.T, data []byte) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("output contains %q", s)
		}
	}
}

// rgbaAt returns the straight-alpha colour of img at a point given as
// fractions of its width and height.
func rgbaAt(img image.Image, fx, fy float64) color.NRGBA {
	b := img.Bounds()
	x := b.Min.X + int(fx*float64(b.Dx()))
	y := b.Min.Y + int(fy*float64(b.Dy()))
	return color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
}

func near(c color.NRGBA, r, g, b int, tol int) bool {
	d := func(a uint8, b int) bool { return abs(int(a)-b) <= tol }
	return d(c.R, r) && d(c.G, g) && d(c.B, b)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// checkScene checks the corpus's scene (see testdata/gen.sh) as a browser
// shows it: red block top left, background in the other top corner and
// bottom left, blue disc bottom right.
func checkScene(t *testing.T, img image.Image) {
	t.Helper()
	if _, ok := img.(*image.Gray); ok {
		// Luma of red is 76; of the background near the top, about 100.
		if c := rgbaAt(img, 0.1, 0.12); !near(c, 76, 76, 76, 12) {
			t.Errorf("top left is %v, want the grey of red (76)", c)
		}
		if c := rgbaAt(img, 0.9, 0.12); !near(c, 100, 100, 100, 12) {
			t.Errorf("top right is %v, want the grey of the background (100)", c)
		}
		return
	}
	if c := rgbaAt(img, 0.1, 0.12); !near(c, 255, 0, 0, 40) {
		t.Errorf("top left is %v, want red", c)
	}
	for _, p := range [][2]float64{{0.9, 0.12}, {0.1, 0.6}, {0.9, 0.6}} {
		if c := rgbaAt(img, p[0], p[1]); near(c, 255, 0, 0, 100) {
			t.Errorf("at %v the colour is %v, want no red", p, c)
		}
	}
	if c := rgbaAt(img, 0.75, 0.73); !near(c, 0x20, 0x40, 0xFF, 40) {
		t.Errorf("disc is %v, want blue", c)
	}
}

// checkAlpha checks the transparency of alpha.png's scene.
func checkAlpha(t *testing.T, img image.Image) {
	t.Helper()
	if c := rgbaAt(img, 0.2, 0.73); c.A != 0 {
		t.Errorf("transparent disc has alpha %d, want 0", c.A)
	}
	if c := rgbaAt(img, 0.6, 0.95); c.A < 100 || c.A > 156 {
		t.Errorf("half-transparent band has alpha %d, want about 128", c.A)
	}
	if c := rgbaAt(img, 0.1, 0.12); c.A != 255 {
		t.Errorf("red block has alpha %d, want 255", c.A)
	}
}

func TestProcessCorpus(t *testing.T) {
	small := Limits{MaxSide: 100}
	tests := []struct {
		name   string
		file   string
		lim    Limits
		format Format
		w, h   int
		frames int
		check  func(*testing.T, decoded)
	}{
		{"baseline JPEG", "baseline.jpg", Limits{}, JPEG, 200, 150, 1, sceneCheck},
		{"baseline JPEG scaled", "baseline.jpg", small, JPEG, 100, 75, 1, sceneCheck},
		{"progressive JPEG", "progressive.jpg", Limits{}, JPEG, 200, 150, 1, sceneCheck},
		{"progressive JPEG scaled", "progressive.jpg", small, JPEG, 100, 75, 1, sceneCheck},
		{"Adobe CMYK JPEG", "cmyk.jpg", Limits{}, JPEG, 200, 150, 1, sceneCheck},
		{"Adobe CMYK JPEG scaled", "cmyk.jpg", small, JPEG, 100, 75, 1, sceneCheck},
		{"Adobe YCCK JPEG", "ycck.jpg", Limits{}, JPEG, 200, 150, 1, sceneCheck},
		{"Adobe YCCK JPEG scaled", "ycck.jpg", small, JPEG, 100, 75, 1, sceneCheck},
		{"grey JPEG", "gray.jpg", Limits{}, JPEG, 200, 150, 1, grayCheck},
		{"grey JPEG scaled", "gray.jpg", small, JPEG, 100, 75, 1, grayCheck},
		{"EXIF Orientation 6 JPEG", "exif-orient6.jpg", Limits{}, JPEG, 200, 150, 1, sceneCheck},
		{"EXIF Orientation 6 JPEG scaled", "exif-orient6.jpg", small, JPEG, 100, 75, 1, sceneCheck},
		{"paletted PNG", "palette.png", Limits{}, PNG, 200, 150, 1, func(t *testing.T, d decoded) {
			if _, ok := d.img.(*image.Paletted); !ok {
				t.Errorf("output is %T, want a paletted PNG kept paletted", d.img)
			}
			checkScene(t, d.img)
		}},
		{"paletted PNG scaled", "palette.png", small, PNG, 100, 75, 1, sceneCheck},
		{"16-bit interlaced PNG with text", "deep16.png", Limits{}, PNG, 200, 150, 1, sceneCheck},
		{"16-bit interlaced PNG with text scaled", "deep16.png", small, PNG, 100, 75, 1, sceneCheck},
		{"PNG with alpha", "alpha.png", Limits{}, PNG, 200, 150, 1, alphaCheck},
		{"PNG with alpha scaled", "alpha.png", small, PNG, 100, 75, 1, alphaCheck},
		{"PNG with HTML appended", "payload.png", Limits{}, PNG, 200, 150, 1, alphaCheck},
		{"PNG with HTML appended scaled", "payload.png", small, PNG, 100, 75, 1, alphaCheck},
		{"animated GIF", "anim.gif", Limits{}, GIF, 120, 90, 4, func(t *testing.T, d decoded) {
			// Small enough to keep: the frames go back unchanged.
			src, err := gif.DecodeAll(bytes.NewReader(readTestdata(t, "anim.gif")))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(src.Delay, d.anim.Delay); diff != "" {
				t.Errorf("delays differ (-source +output):\n%s", diff)
			}
			if diff := cmp.Diff(src.Disposal, d.anim.Disposal); diff != "" {
				t.Errorf("disposals differ (-source +output):\n%s", diff)
			}
			for i := range src.Image {
				if !bytes.Equal(src.Image[i].Pix, d.anim.Image[i].Pix) || src.Image[i].Rect != d.anim.Image[i].Rect {
					t.Errorf("frame %d differs", i)
				}
			}
			checkAnim(t, d.anim, 3)
		}},
		{"animated GIF scaled", "anim.gif", Limits{MaxSide: 60}, GIF, 60, 45, 4, func(t *testing.T, d decoded) {
			checkAnim(t, d.anim, 3)
			checkAnimFrames(t, d.anim, 0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readTestdata(t, tt.file)
			out, err := Process(in, tt.lim)
			if err != nil {
				t.Fatalf("Process(%s) = %v, want a picture", tt.file, err)
			}
			got := [4]int{int(out.Format), out.Width, out.Height, out.Frames}
			if want := [4]int{int(tt.format), tt.w, tt.h, tt.frames}; got != want {
				t.Errorf("Process(%s) = format, w, h, frames %v, want %v", tt.file, got, want)
			}
			d := decodeOutput(t, out)
			checkNoSecrets(t, out.Data)
			tt.check(t, d)
		})
	}
}

func sceneCheck(t *testing.T, d decoded) { t.Helper(); checkScene(t, d.img) }

func alphaCheck(t *testing.T, d decoded) { t.Helper(); checkScene(t, d.img); checkAlpha(t, d.img) }

func grayCheck(t *testing.T, d decoded) {
	t.Helper()
	if _, ok := d.img.(*image.Gray); !ok {
		t.Errorf("output is %T, want a grey JPEG", d.img)
	}
	checkScene(t, d.img)
}

// checkAnim checks what anim.gif's output keeps of the animation.
func checkAnim(t *testing.T, g *gif.GIF, loop int) {
	t.Helper()
	if g.LoopCount != loop {
		t.Errorf("loop count = %d, want %d", g.LoopCount, loop)
	}
	if diff := cmp.Diff([]int{20, 20, 30, 40}, g.Delay); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	hasTransparent := false
	for _, c := range g.Image[0].Palette {
		if _, _, _, a := c.RGBA(); a == 0 {
			hasTransparent = true
		}
	}
	if !hasTransparent {
		t.Error("first frame has no transparent colour")
	}
}

// checkAnimFrames checks composited frames of anim.gif (see gen.sh): each
// output frame is a whole picture, so it can be read on its own. The crop
// is the x offset of a centred square, in source pixels.
func checkAnimFrames(t *testing.T, g *gif.GIF, crop int) {
	t.Helper()
	sw := float64(g.Config.Width) / float64(120-2*crop)
	sh := float64(g.Config.Height) / 90
	at := func(frame int, x, y float64) color.NRGBA {
		m := g.Image[frame]
		return color.NRGBAModel.Convert(m.At(int((x-float64(crop))*sw), int(y*sh))).(color.NRGBA)
	}
	blue, green, yellow, red := [3]int{0, 0, 255}, [3]int{0, 255, 0}, [3]int{255, 255, 0}, [3]int{255, 0, 0}
	checks := []struct {
		frame int
		x, y  float64
		want  *[3]int // nil: transparent
	}{
		{0, 30, 45, &blue}, {0, 90, 45, nil}, {0, 80, 45, nil},
		{1, 30, 45, &blue}, {1, 80, 45, &green}, {1, 70, 80, nil},
		{2, 80, 45, nil}, {2, 30, 65, &yellow}, {2, 30, 20, &blue},
		{3, 30, 65, &blue}, {3, 80, 45, nil}, {3, 100, 10, &red},
	}
	for _, c := range checks {
		if c.x < float64(crop) || c.x >= float64(120-crop) {
			continue
		}
		got := at(c.frame, c.x, c.y)
		if c.want == nil {
			if got.A != 0 {
				t.Errorf("frame %d at (%v,%v) = %v, want transparent", c.frame, c.x, c.y, got)
			}
			continue
		}
		if got.A != 255 || !near(got, c.want[0], c.want[1], c.want[2], 8) {
			t.Errorf("frame %d at (%v,%v) = %v, want %v", c.frame, c.x, c.y, got, *c.want)
		}
	}
}

func TestProcessRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		want string
	}{
		{"truncated JPEG", readTestdata(t, "truncated.jpg"), Limits{}, "image data is truncated or corrupt"},
		{"HTML", readTestdata(t, "page.html"), Limits{}, "not a JPEG, PNG, GIF or WebP image"},
		{"SVG", readTestdata(t, "image.svg"), Limits{}, "not a JPEG, PNG, GIF or WebP image"},
		{"empty", nil, Limits{}, "not a JPEG, PNG, GIF or WebP image"},
		{"PNG header bomb", readTestdata(t, "huge.png"), Limits{}, "image is 30000×30000 pixels; the limit is 50 megapixels"},
		{"GIF header bomb", readTestdata(t, "huge.gif"), Limits{}, "image is 30000×30000 pixels; the limit is 50 megapixels"},
		{"JPEG header bomb", readTestdata(t, "huge.jpg"), Limits{}, "image is 30000×30000 pixels; the limit is 50 megapixels"},
		{"600 frames", readTestdata(t, "frames600.gif"), Limits{}, "animation has 600 frames; the limit is 500"},
		{"60 frames of 1000×1000", readTestdata(t, "budget.gif"), Limits{},
			"animation has 60 frames of 1000×1000 pixels, 60 megapixels in all; the limit is 50 megapixels"},
		{"over a small budget", readTestdata(t, "baseline.jpg"), Limits{MaxPixels: 12_500},
			"image is 200×150 pixels; the limit is 0.0125 megapixels"},
		{"over a small frame limit", readTestdata(t, "anim.gif"), Limits{MaxFrames: 3}, "animation has 4 frames; the limit is 3"},
		{"truncated GIF", readTestdata(t, "anim.gif")[:300], Limits{}, "image data is truncated or corrupt"},
		{"truncated PNG", readTestdata(t, "alpha.png")[:1000], Limits{}, "image data is truncated or corrupt"},
		{"PNG signature only", []byte("\x89PNG\r\n\x1a\n"), Limits{}, "image data is truncated or corrupt"},
		{"JPEG SOI only", []byte{0xFF, 0xD8, 0xFF}, Limits{}, "image data is truncated or corrupt"},
		{"GIF header only", []byte("GIF89a"), Limits{}, "image data is truncated or corrupt"},
		{"progressive JPEG with 150 extra scans", scanBomb(t, 150), Limits{},
			"progressive JPEG has too many scans for its size: the decoder would walk its blocks more than 8 times"},
		{"baseline JPEG with a component coded twice", codedTwice(t), Limits{}, "JPEG codes its components more than once (2 scans)"},
		{"strip of 101×1", stripPNG(t, 101, 1), Limits{}, "image is 101×1 pixels; the long side may be at most 100 times the short one"},
		{"strip of 1×5000", stripPNG(t, 1, 5000), Limits{}, "image is 1×5000 pixels; the long side may be at most 100 times the short one"},
		{"4-component JPEG without Adobe marker", cmykWithoutAdobe(t), Limits{},
			"image uses a JPEG feature that is not supported (unknown color model: 4-component JPEG doesn't have Adobe APP14 metadata)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Process(tt.in, tt.lim)
			var re *RejectError
			if !errors.As(err, &re) {
				t.Fatalf("Process() = %v, %v, want *RejectError %q", got.Format, err, tt.want)
			}
			if re.Reason != tt.want {
				t.Errorf("Process() = reason %q, want %q", re.Reason, tt.want)
			}
			if _, err := RenditionWithLimits(tt.in, 64, tt.lim); !errors.As(err, &re) || re.Reason != tt.want {
				t.Errorf("RenditionWithLimits() = %v, want *RejectError %q", err, tt.want)
			}
		})
	}
}

// scanBomb is progressive.jpg with its last scan repeated n more times: a
// few bytes a scan, a walk over every block of a component for the
// decoder.
func scanBomb(t *testing.T, n int) []byte {
	data := readTestdata(t, "progressive.jpg")
	i := bytes.LastIndex(data, []byte{0xFF, 0xDA})
	if i < 0 || !bytes.HasSuffix(data, []byte{0xFF, 0xD9}) {
		t.Fatal("progressive.jpg has no SOS or does not end in EOI")
	}
	scan := data[i : len(data)-2]
	out := bytes.Clone(data[:len(data)-2])
	for range n {
		out = append(out, scan...)
	}
	return append(out, 0xFF, 0xD9)
}

// codedTwice is baseline.jpg with its scan repeated.
func codedTwice(t *testing.T) []byte {
	data := readTestdata(t, "baseline.jpg")
	i := bytes.Index(data, []byte{0xFF, 0xDA})
	if i < 0 || !bytes.HasSuffix(data, []byte{0xFF, 0xD9}) {
		t.Fatal("baseline.jpg has no SOS or does not end in EOI")
	}
	scan := data[i : len(data)-2]
	return append(bytes.Clone(data[:len(data)-2]), append(scan, 0xFF, 0xD9)...)
}

// stripPNG is a w×h grey PNG.
func stripPNG(t *testing.T, w, h int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWalkJPEG(t *testing.T) {
	tests := []struct {
		name          string
		in            []byte
		scans         int
		visits, allow int64 // in whole-frame walks, times 1000
	}{
		// 200×150 at 4:2:0: 13×10 MCUs of 6 blocks.
		{"baseline", readTestdata(t, "baseline.jpg"), 1, 1000, 1000},
		// libjpeg's script: 2 walks of everything, 4 of luma, 2 of each chroma.
		{"progressive", readTestdata(t, "progressive.jpg"), 10, 5333, 8000},
		{"grey", readTestdata(t, "gray.jpg"), 1, 1000, 1000},
		{"camera", readTestdata(t, "exif-orient6.jpg"), 1, 1000, 1000},
		{"150 extra scans, stopped at the bound", scanBomb(t, 150), 15, 8666, 8000},
		{"coded twice", codedTwice(t), 2, 2000, 1000},
		{"truncated", readTestdata(t, "truncated.jpg"), 1, 1000, 1000},
	}
	for _, tt := range tests {
		f := walkJPEG(tt.in)
		walk := f.mcus() * f.blocksPerMCU()
		if walk == 0 {
			t.Errorf("walkJPEG(%s) found no frame", tt.name)
			continue
		}
		got := [3]int64{int64(f.scans), f.visits * 1000 / walk, f.allowedVisits() * 1000 / walk}
		if want := [3]int64{int64(tt.scans), tt.visits, tt.allow}; got != want {
			t.Errorf("walkJPEG(%s) = scans, visits, allowed %v, want %v", tt.name, got, want)
		}
	}
	if f := walkJPEG(nil); f.scans != 0 || f.nComp != 0 {
		t.Errorf("walkJPEG(nil) = %+v, want nothing", f)
	}
}

// cmykWithoutAdobe is cmyk.jpg without its APP14 segment.
func cmykWithoutAdobe(t *testing.T) []byte {
	data := readTestdata(t, "cmyk.jpg")
	i := bytes.Index(data, []byte("\xFF\xEEAdobe"))
	if i < 0 {
		i = bytes.Index(data, []byte{0xFF, 0xEE})
	}
	if i < 0 {
		t.Fatal("cmyk.jpg has no APP14 segment")
	}
	n := int(binary.BigEndian.Uint16(data[i+2:]))
	return append(data[:i:i], data[i+2+n:]...)
}

// TestProcessBombIsCheap: a few bytes declaring 900 megapixels are refused
// from the header, with small allocations only.
func TestProcessBombIsCheap(t *testing.T) {
	for _, name := range []string{"huge.png", "huge.gif", "huge.jpg"} {
		t.Run(name, func(t *testing.T) {
			data := readTestdata(t, name)
			const runs = 20
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				if _, err := Process(data, Limits{}); err == nil {
					t.Fatal("Process() accepted a bomb")
				}
			}
			runtime.ReadMemStats(&after)
			const limit = 256 << 10
			if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > limit {
				t.Errorf("Process(%s) allocated %d bytes a run, want at most %d", name, perRun, limit)
			}
			if allocs := testing.AllocsPerRun(runs, func() { Process(data, Limits{}) }); allocs > 100 {
				t.Errorf("Process(%s) made %v allocations a run, want at most 100", name, allocs)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	for _, f := range []Format{JPEG, PNG, GIF} {
		if got, ok := FormatOfExt(f.Ext()); !ok || got != f {
			t.Errorf("FormatOfExt(%q) = %v, %v, want %v, true", f.Ext(), got, ok, f)
		}
	}
	tests := []struct {
		f         Format
		ext, mime string
	}{
		{JPEG, ".jpg", "image/jpeg"},
		{PNG, ".png", "image/png"},
		{GIF, ".gif", "image/gif"},
		{WebP, ".webp", "image/webp"}, // written for rendition variants, never stored
		{0, "", ""},
	}
	for _, tt := range tests {
		if got := tt.f.Ext(); got != tt.ext {
			t.Errorf("%v.Ext() = %q, want %q", tt.f, got, tt.ext)
		}
		if got := tt.f.MIME(); got != tt.mime {
			t.Errorf("%v.MIME() = %q, want %q", tt.f, got, tt.mime)
		}
	}
	for _, ext := range []string{"", ".JPG", "jpg", ".svg", ".html", ".jpg/", ".webp"} {
		if f, ok := FormatOfExt(ext); ok {
			t.Errorf("FormatOfExt(%q) = %v, true, want false", ext, f)
		}
	}
	if f, ok := FormatOfExt(".jpeg"); !ok || f != JPEG {
		t.Errorf(`FormatOfExt(".jpeg") = %v, %v, want JPEG, true`, f, ok)
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Format
		ok   bool
	}{
		{"JPEG", "\xFF\xD8\xFF\xE0", JPEG, true},
		{"PNG", "\x89PNG\r\n\x1a\nrest", PNG, true},
		{"GIF87a", "GIF87a", GIF, true},
		{"GIF89a", "GIF89a...", GIF, true},
		{"short JPEG", "\xFF\xD8", 0, false},
		{"short PNG", "\x89PNG\r\n\x1a", 0, false},
		{"GIF90a", "GIF90a", 0, false},
		{"HTML", "<html>", 0, false},
		{"SVG", "<svg", 0, false},
		{"BMP", "BM6\x00\x00\x00", 0, false},
		{"WebP", "RIFF\x00\x00\x00\x00WEBP", 0, false},
		{"TIFF", "II*\x00", 0, false},
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := Sniff([]byte(tt.in)); got != tt.want || ok != tt.ok {
				t.Errorf("Sniff(%q) = %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// orientedJPEG returns a 40×60 (Orientation 5–8) or 60×40 JPEG with an
// Exif segment giving orientation o, drawn so that a viewer honouring the
// tag shows a red block at the top left and a green one at the top right.
func orientedJPEG(t *testing.T, o int, order binary.AppendByteOrder) []byte {
	t.Helper()
	w, h := 60, 40
	if o >= 5 {
		w, h = h, w
	}
	// Where the displayed top-left (red) and top-right (green) corners
	// are stored: T/B top/bottom, L/R left/right.
	corners := map[int][2]string{
		1: {"TL", "TR"}, 2: {"TR", "TL"}, 3: {"BR", "BL"}, 4: {"BL", "BR"},
		5: {"TL", "BL"}, 6: {"BL", "TL"}, 7: {"BR", "TR"}, 8: {"TR", "BR"},
	}[o]
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = 0x80
	}
	block := func(corner string, c color.RGBA) {
		x0, y0 := 0, 0
		if corner[1] == 'R' {
			x0 = w - 12
		}
		if corner[0] == 'B' {
			y0 = h - 12
		}
		for y := y0; y < y0+12; y++ {
			for x := x0; x < x0+12; x++ {
				m.SetRGBA(x, y, c)
			}
		}
	}
	block(corners[0], color.RGBA{255, 0, 0, 255})
	block(corners[1], color.RGBA{0, 255, 0, 255})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return insertExif(buf.Bytes(), exifOrientation(o, order))
}

// exifOrientation returns an Exif APP1 body whose IFD0 holds two other tags
// and then Orientation.
func exifOrientation(o int, order binary.AppendByteOrder) []byte {
	b := []byte("Exif\x00\x00")
	if order == binary.LittleEndian {
		b = append(b, "II"...)
	} else {
		b = append(b, "MM"...)
	}
	b = order.AppendUint16(b, 42)
	b = order.AppendUint32(b, 8)
	b = order.AppendUint16(b, 3)
	entry := func(tag, typ uint16, count uint32, value uint16) {
		b = order.AppendUint16(b, tag)
		b = order.AppendUint16(b, typ)
		b = order.AppendUint32(b, count)
		b = order.AppendUint16(b, value)
		b = append(b, 0, 0)
	}
	entry(0x010F, 2, 2, 'X') // Make "X"
	entry(0x0110, 2, 2, 'Y') // Model "Y"
	entry(0x0112, 3, 1, uint16(o))
	return order.AppendUint32(b, 0)
}

// insertExif puts an APP1 segment right after SOI.
func insertExif(jpg, body []byte) []byte {
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(body)+2))
	seg = append(seg, body...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestProcessOrientation(t *testing.T) {
	for _, order := range []binary.AppendByteOrder{binary.BigEndian, binary.LittleEndian} {
		for o := 1; o <= 8; o++ {
			t.Run(fmt.Sprintf("%v/%d", order, o), func(t *testing.T) {
				in := orientedJPEG(t, o, order)
				if got := jpegOrientation(in); got != o {
					t.Fatalf("jpegOrientation() = %d, want %d", got, o)
				}
				for _, lim := range []Limits{{}, {MaxSide: 30}} {
					out, err := Process(in, lim)
					if err != nil {
						t.Fatalf("Process() = %v", err)
					}
					wantW, wantH := 60, 40
					if lim.MaxSide == 30 {
						wantW, wantH = 30, 20
					}
					if out.Width != wantW || out.Height != wantH {
						t.Errorf("Process(MaxSide %d) = %d×%d, want %d×%d", lim.MaxSide, out.Width, out.Height, wantW, wantH)
					}
					d := decodeOutput(t, out)
					if c := rgbaAt(d.img, 0.05, 0.05); !near(c, 255, 0, 0, 60) {
						t.Errorf("MaxSide %d: top left = %v, want red", lim.MaxSide, c)
					}
					if c := rgbaAt(d.img, 0.95, 0.05); !near(c, 0, 255, 0, 60) {
						t.Errorf("MaxSide %d: top right = %v, want green", lim.MaxSide, c)
					}
					if c := rgbaAt(d.img, 0.5, 0.9); !near(c, 128, 128, 128, 20) {
						t.Errorf("MaxSide %d: bottom middle = %v, want grey", lim.MaxSide, c)
					}
				}
			})
		}
	}
}

func TestJPEGOrientation(t *testing.T) {
	jpg := readTestdata(t, "baseline.jpg")
	be := exifOrientation(6, binary.BigEndian)
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"no Exif", jpg, 1},
		{"camera file", readTestdata(t, "exif-orient6.jpg"), 6},
		{"Exif", insertExif(jpg, be), 6},
		{"first Exif wins", insertExif(insertExif(jpg, exifOrientation(3, binary.BigEndian)), be), 6},
		{"not a JPEG", []byte("GIF89a"), 1},
		{"empty", nil, 1},
		{"SOI only", []byte{0xFF, 0xD8}, 1},
		{"truncated segment", insertExif(jpg, be)[:20], 1},
		{"value 0", insertExif(jpg, exifOrientation(0, binary.BigEndian)), 1},
		{"value 9", insertExif(jpg, exifOrientation(9, binary.BigEndian)), 1},
		{"bad byte order", insertExif(jpg, bytes.Replace(be, []byte("MM"), []byte("XX"), 1)), 1},
		{"bad magic", insertExif(jpg, bytes.Replace(be, []byte("MM\x00\x2a"), []byte("MM\x00\x2b"), 1)), 1},
		{"IFD offset past the end", insertExif(jpg, bytes.Replace(be, []byte("MM\x00\x2a\x00\x00\x00\x08"), []byte("MM\x00\x2a\x7f\xff\xff\xff"), 1)), 1},
		{"IFD offset into the header", insertExif(jpg, bytes.Replace(be, []byte("MM\x00\x2a\x00\x00\x00\x08"), []byte("MM\x00\x2a\x00\x00\x00\x02"), 1)), 1},
		{"entry count past the end", insertExif(jpg, bytes.Replace(be, []byte("\x00\x00\x00\x08\x00\x03"), []byte("\x00\x00\x00\x08\xff\xff"), 1)), 6},
		{"entries cut short", insertExif(jpg, be[:6+8+2+12*2+6]), 1},
		{"Orientation as LONG", insertExif(jpg, bytes.Replace(be, []byte("\x01\x12\x00\x03"), []byte("\x01\x12\x00\x04"), 1)), 1},
		{"Exif after the scan", append(append([]byte{}, jpg...), insertExif([]byte{0xFF, 0xD8}, be)...), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.in); got != tt.want {
				t.Errorf("jpegOrientation() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRendition(t *testing.T) {
	stored := func(name string) Image {
		out, err := Process(readTestdata(t, name), Limits{})
		if err != nil {
			t.Fatalf("Process(%s) = %v", name, err)
		}
		return out
	}
	jpg, png8, alpha, anim, gray := stored("baseline.jpg"), stored("palette.png"), stored("alpha.png"), stored("anim.gif"), stored("gray.jpg")
	for _, size := range []int{32, 48, 64, 96, 128, 192, 256, 512} {
		tests := []struct {
			name   string
			in     Image
			side   int // the source's short side
			frames int
			check  func(*testing.T, decoded)
		}{
			{"JPEG", jpg, 150, 1, squareScene},
			{"grey JPEG", gray, 150, 1, func(t *testing.T, d decoded) {
				if _, ok := d.img.(*image.Gray); !ok {
					t.Errorf("rendition is %T, want grey", d.img)
				}
			}},
			{"paletted PNG", png8, 150, 1, squareScene},
			{"PNG with alpha", alpha, 150, 1, func(t *testing.T, d decoded) {
				squareScene(t, d)
				// The transparent disc at (40,110) is at (15,110) of the
				// centred 150×150 square.
				if c := rgbaAt(d.img, 15.0/150, 110.0/150); c.A != 0 {
					t.Errorf("transparent disc has alpha %d, want 0", c.A)
				}
			}},
			{"animated GIF", anim, 90, 4, func(t *testing.T, d decoded) {
				checkAnim(t, d.anim, 3)
				checkAnimFrames(t, d.anim, 15)
			}},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d", tt.name, size), func(t *testing.T) {
				out, err := Rendition(tt.in.Data, size)
				if err != nil {
					t.Fatalf("Rendition(%d) = %v", size, err)
				}
				want := min(size, tt.side)
				got := [4]int{int(out.Format), out.Width, out.Height, out.Frames}
				if w := [4]int{int(tt.in.Format), want, want, tt.frames}; got != w {
					t.Errorf("Rendition(%d) = format, w, h, frames %v, want %v", size, got, w)
				}
				d := decodeOutput(t, out)
				tt.check(t, d)
			})
		}
	}
}

// squareScene checks the centred square of the scene: the red block
// (0–49 × 0–39 of 200×150) is at 0–24 × 0–39 of the 150×150 square, the
// disc (centre 150,110) at 125,110.
func squareScene(t *testing.T, d decoded) {
	t.Helper()
	if c := rgbaAt(d.img, 10.0/150, 15.0/150); !near(c, 255, 0, 0, 50) {
		t.Errorf("top left = %v, want red", c)
	}
	if c := rgbaAt(d.img, 40.0/150, 15.0/150); near(c, 255, 0, 0, 100) {
		t.Errorf("right of the cropped red block = %v, want no red", c)
	}
	if c := rgbaAt(d.img, 125.0/150, 110.0/150); !near(c, 0x20, 0x40, 0xFF, 50) {
		t.Errorf("disc = %v, want blue", c)
	}
}

func TestRenditionErrors(t *testing.T) {
	jpg := readTestdata(t, "baseline.jpg")
	for _, size := range []int{0, -1} {
		_, err := Rendition(jpg, size)
		var re *RejectError
		if err == nil || errors.As(err, &re) {
			t.Errorf("Rendition(size %d) = %v, want a plain error", size, err)
		}
	}
	_, err := Rendition([]byte("<svg/>"), 64)
	var re *RejectError
	if !errors.As(err, &re) {
		t.Errorf("Rendition(SVG) = %v, want *RejectError", err)
	}
}

func TestGeometry(t *testing.T) {
	tests := []struct {
		p      plan
		w, h   int
		r      image.Rectangle
		dw, dh int
	}{
		{plan{side: 1024}, 200, 150, image.Rect(0, 0, 200, 150), 200, 150},
		{plan{side: 1024}, 1024, 1024, image.Rect(0, 0, 1024, 1024), 1024, 1024},
		{plan{side: 1024}, 4000, 3000, image.Rect(0, 0, 4000, 3000), 1024, 768},
		{plan{side: 1024}, 3000, 4000, image.Rect(0, 0, 3000, 4000), 768, 1024},
		{plan{side: 1024}, 100000, 1, image.Rect(0, 0, 100000, 1), 1024, 1},
		{plan{side: 1024}, 1025, 3, image.Rect(0, 0, 1025, 3), 1024, 3},
		{plan{side: 64, square: true}, 200, 150, image.Rect(25, 0, 175, 150), 64, 64},
		{plan{side: 512, square: true}, 200, 150, image.Rect(25, 0, 175, 150), 150, 150},
		{plan{side: 64, square: true}, 3, 8, image.Rect(0, 2, 3, 5), 3, 3},
	}
	for _, tt := range tests {
		r, dw, dh := tt.p.geometry(tt.w, tt.h)
		if r != tt.r || dw != tt.dw || dh != tt.dh {
			t.Errorf("%+v.geometry(%d, %d) = %v, %d, %d, want %v, %d, %d", tt.p, tt.w, tt.h, r, dw, dh, tt.r, tt.dw, tt.dh)
		}
	}
}

func TestRejectError(t *testing.T) {
	err := error(&RejectError{Reason: "image data is truncated or corrupt"})
	if got := err.Error(); !strings.Contains(got, "image data is truncated or corrupt") {
		t.Errorf("Error() = %q, want the reason in it", got)
	}
}

// TestCheckStructure makes sure the output checker would notice what the
// corpus carries.
func TestCheckStructure(t *testing.T) {
	tests := []struct {
		file string
		f    Format
	}{
		{"exif-orient6.jpg", JPEG},
		{"baseline.jpg", JPEG}, // JFIF APP0
		{"deep16.png", PNG},
		{"payload.png", PNG},
		{"anim.gif", GIF},
	}
	for _, tt := range tests {
		data := readTestdata(t, tt.file)
		if err := checkStructure(data, tt.f); err == nil {
			t.Errorf("checkStructure(%s) = nil, want an error", tt.file)
		}
		found := false
		for _, s := range secrets {
			found = found || bytes.Contains(data, []byte(s))
		}
		if !found && tt.file != "baseline.jpg" {
			t.Errorf("%s contains none of the secrets", tt.file)
		}
	}
}

// rawGIF assembles a GIF89a by hand: a 2-colour global table (black,
// white), then for each frame an optional graphic control block and an
// image of w×h at (x, y) whose pixels are all index px.
type rawFrame struct {
	x, y, w, h  int
	px          byte
	transparent bool // index px is transparent
}

func rawGIF(t *testing.T, sw, sh int, frames []rawFrame, trailer bool) []byte {
	t.Helper()
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, uint16(sw))
	b = binary.LittleEndian.AppendUint16(b, uint16(sh))
	b = append(b, 0x80, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF)
	for _, f := range frames {
		if f.transparent {
			b = append(b, 0x21, 0xF9, 4, 1, 10, 0, f.px, 0)
		}
		b = append(b, 0x2C)
		for _, v := range []int{f.x, f.y, f.w, f.h} {
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		}
		b = append(b, 0, 2)
		var lz bytes.Buffer
		w := lzw.NewWriter(&lz, lzw.LSB, 2)
		if _, err := w.Write(bytes.Repeat([]byte{f.px}, f.w*f.h)); err != nil {
			t.Fatal(err)
		}
		w.Close()
		data := lz.Bytes()
		for len(data) > 0 {
			n := min(len(data), 255)
			b = append(b, byte(n))
			b = append(b, data[:n]...)
			data = data[n:]
		}
		b = append(b, 0)
	}
	if trailer {
		b = append(b, 0x3B)
	}
	return b
}

func TestProcessGIFEdges(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		lim    Limits
		w, h   int
		frames int
		reject string
	}{
		{"no trailer", rawGIF(t, 8, 6, []rawFrame{{0, 0, 8, 6, 1, false}, {2, 2, 2, 2, 0, false}}, false), Limits{}, 8, 6, 2, ""},
		{"no trailer, scaled", rawGIF(t, 8, 6, []rawFrame{{0, 0, 8, 6, 1, false}, {2, 2, 2, 2, 0, false}}, false), Limits{MaxSide: 4}, 4, 3, 2, ""},
		{"zero-sized frame", rawGIF(t, 8, 6, []rawFrame{{0, 0, 8, 6, 1, false}, {3, 3, 0, 0, 0, false}}, true), Limits{}, 8, 6, 2, ""},
		{"zero-sized frame, scaled", rawGIF(t, 8, 6, []rawFrame{{0, 0, 8, 6, 1, false}, {3, 3, 0, 0, 0, false}}, true), Limits{MaxSide: 4}, 4, 3, 2, ""},
		{"all transparent, scaled", rawGIF(t, 8, 6, []rawFrame{{0, 0, 8, 6, 1, true}}, true), Limits{MaxSide: 4}, 4, 3, 1, ""},
		{"frame beside the screen", rawGIF(t, 8, 6, []rawFrame{{0, 0, 8, 6, 1, false}, {7, 0, 2, 2, 0, false}}, true), Limits{}, 0, 0, 0,
			"image data is truncated or corrupt"},
		{"empty screen", rawGIF(t, 0, 0, []rawFrame{{0, 0, 0, 0, 1, false}}, true), Limits{}, 0, 0, 0, "image has no pixels"},
		{"no frames", rawGIF(t, 8, 6, nil, true), Limits{}, 0, 0, 0, "image data is truncated or corrupt"},
		{"no frames, no trailer", rawGIF(t, 8, 6, nil, false), Limits{}, 0, 0, 0, "image data is truncated or corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Process(tt.in, tt.lim)
			if tt.reject != "" {
				var re *RejectError
				if !errors.As(err, &re) || re.Reason != tt.reject {
					t.Fatalf("Process() = %v, want *RejectError %q", err, tt.reject)
				}
				return
			}
			if err != nil {
				t.Fatalf("Process() = %v, want a picture", err)
			}
			if out.Width != tt.w || out.Height != tt.h || out.Frames != tt.frames {
				t.Errorf("Process() = %d×%d×%d, want %d×%d×%d", out.Width, out.Height, out.Frames, tt.w, tt.h, tt.frames)
			}
			decodeOutput(t, out)
			if _, err := Rendition(out.Data, 2); err != nil {
				t.Errorf("Rendition(output) = %v", err)
			}
		})
	}
}
