package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // for image.Decode
	"image/png"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/image/draw"

	"roster/internal/avatar"
)

// bytesSection measures what WebP variants save: for photos and flat
// pictures, the bytes and SSIM of each rendition size in the stored format
// and as WebP, and the time to make each (the stored rendition alone, and
// with its WebP variant, which searches for the quality). It runs in this
// process, with the same package the server uses.
func bytesSection(ctx context.Context, cfg *config, rep *report) error {
	avatar.WarmWebP()
	if !avatar.WebPSandboxed() {
		rep.note("bytes: a system libwebp is loaded, so no WebP variants are made; section skipped")
		return nil
	}
	pictures, err := bytesCorpus()
	if err != nil {
		return err
	}
	reps := max(1, cfg.reps)
	for _, pic := range pictures {
		stored, err := avatar.Process(pic.data, avatar.Limits{})
		if err != nil {
			return fmt.Errorf("%s: %w", pic.name, err)
		}
		var sumStored, sumWebP int
		for _, size := range []int{64, 128, 256} {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var plain, both time.Duration
			var r, w avatar.Image
			for range reps {
				t0 := time.Now()
				if r, err = avatar.Rendition(stored.Data, size); err != nil {
					return err
				}
				t1 := time.Now()
				if _, w, err = avatar.RenditionVariants(stored.Data, size, avatar.Limits{}); err != nil {
					return err
				}
				plain, both = plain+t1.Sub(t0), both+time.Since(t1)
			}
			ref, err := reference(stored.Data, size)
			if err != nil {
				return err
			}
			rs, err := ssimOf(ref, r.Data)
			if err != nil {
				return err
			}
			label := fmt.Sprintf("%s at %d: WebP bytes vs %s", pic.name, size, r.Format)
			if w.Data == nil {
				rep.add(row{Section: "bytes", Measure: label + " (WebP not smaller: the stored format is answered)",
					Roster: fmt.Sprintf("%d B", len(r.Data)), Baseline: fmt.Sprintf("%v %d B, SSIM %.4f", r.Format, len(r.Data), rs), Value: 1})
				sumStored += len(r.Data)
				sumWebP += len(r.Data)
				continue
			}
			ws, err := ssimOf(ref, w.Data)
			if err != nil {
				return err
			}
			target := 0.0
			if pic.photo {
				target = 0.8
			}
			rep.add(row{Section: "bytes", Measure: label,
				Roster:   fmt.Sprintf("WebP %d B, SSIM %.4f, made in %s with the %v", len(w.Data), ws, (both / time.Duration(reps)).Round(time.Microsecond*100), r.Format),
				Baseline: fmt.Sprintf("%v %d B, SSIM %.4f, made in %s", r.Format, len(r.Data), rs, (plain / time.Duration(reps)).Round(time.Microsecond*100)),
				Value:    float64(len(w.Data)) / float64(len(r.Data)), Target: target, Lower: true})
			sumStored += len(r.Data)
			sumWebP += len(w.Data)
		}
		target := 0.0
		if pic.photo {
			target = 0.7
		}
		rep.add(row{Section: "bytes", Measure: pic.name + ": the three renditions together, WebP vs stored format",
			Roster: fmt.Sprintf("%d B", sumWebP), Baseline: fmt.Sprintf("%d B", sumStored),
			Value: float64(sumWebP) / float64(sumStored), Target: target, Lower: true})
	}
	return nil
}

type picture struct {
	name  string
	data  []byte
	photo bool
}

// bytesCorpus is three real photographs (package avatar's testdata), the
// project's synthetic photo-like picture, a transparent PNG and a flat
// logo-like icon.
func bytesCorpus() ([]picture, error) {
	var pics []picture
	for _, n := range []string{"photo-astronaut.jpg", "photo-chelsea.jpg", "photo-coffee.jpg"} {
		data, err := os.ReadFile(filepath.Join("internal", "avatar", "testdata", n))
		if err != nil {
			return nil, err
		}
		pics = append(pics, picture{n, data, true})
	}
	synthetic, err := photoJPEG(1024, 1024, 7, 90)
	if err != nil {
		return nil, err
	}
	alpha, err := os.ReadFile(filepath.Join("internal", "avatar", "testdata", "alpha.png"))
	if err != nil {
		return nil, err
	}
	icon := image.NewNRGBA(image.Rect(0, 0, 512, 512))
	for y := range 512 {
		for x := range 512 {
			dx, dy := x-256, y-256
			switch d := dx*dx + dy*dy; {
			case d < 160*160 && x < 256:
				icon.SetNRGBA(x, y, color.NRGBA{0x1e, 0x88, 0xe5, 0xff})
			case d < 160*160:
				icon.SetNRGBA(x, y, color.NRGBA{0xff, 0xc1, 0x07, 0xff})
			case d < 220*220:
				icon.SetNRGBA(x, y, color.NRGBA{0x21, 0x21, 0x21, 0xff})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, icon); err != nil {
		return nil, err
	}
	return append(pics,
		picture{"synthetic photo-like 1024×1024 (gradients and noise)", synthetic, false},
		picture{"transparent PNG 200×150", alpha, false},
		picture{"flat icon 512×512 PNG", buf.Bytes(), false}), nil
}

// reference is the centre square of a stored picture scaled to size with
// Catmull-Rom: what both variants are compared with.
func reference(stored []byte, size int) (image.Image, error) {
	m, _, err := image.Decode(bytes.NewReader(stored))
	if err != nil {
		return nil, err
	}
	b := m.Bounds()
	s := min(b.Dx(), b.Dy())
	sq := image.Rect(b.Min.X+(b.Dx()-s)/2, b.Min.Y+(b.Dy()-s)/2, b.Min.X+(b.Dx()-s)/2+s, b.Min.Y+(b.Dy()-s)/2+s)
	d := min(size, s)
	out := image.NewRGBA(image.Rect(0, 0, d, d))
	draw.CatmullRom.Scale(out, out.Rect, m, sq, draw.Src, nil)
	return out, nil
}

// ssimOf decodes an encoded rendition and compares it with ref.
func ssimOf(ref image.Image, data []byte) (float64, error) {
	var m image.Image
	var err error
	switch {
	case avatar.IsWebP(data):
		m, err = avatar.DecodeWebP(data)
	default:
		m, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return 0, err
	}
	return avatar.SSIM(ref, m), nil
}
