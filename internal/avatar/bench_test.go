package avatar

import (
	"bytes"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"roster/internal/avatar/avatartest"
)

// photo is the project's photo-like test picture.
func photo(w, h int, seed uint64) *image.RGBA { return avatartest.Photo(w, h, seed) }

var (
	photoJPEGOnce sync.Once
	photoJPEG     []byte
)

// photoJPEG12MP is a 4000×3000 photo-like JPEG at quality 90, made once.
func photoJPEG12MP(b *testing.B) []byte {
	photoJPEGOnce.Do(func() {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, photo(4000, 3000, 1), &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
		photoJPEG = buf.Bytes()
	})
	return photoJPEG
}

// peakHeap runs f once and returns the highest heap in use seen while it
// ran, above what was in use before: a sampled approximation, good to a
// few MiB.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	peak := base
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	<-finished
	return peak - base
}

func BenchmarkProcess(b *testing.B) {
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, photo(256, 256, 2)); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		data func(*testing.B) []byte
	}{
		{"jpeg-4000x3000", photoJPEG12MP},
		{"png-256x256", func(*testing.B) []byte { return pngBuf.Bytes() }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			data := c.data(b)
			lim := DefaultLimits()
			peak := peakHeap(func() {
				if _, err := Process(data, lim); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := Process(data, lim); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// BenchmarkProcessStages splits the 12-megapixel JPEG case into decoding
// and the rest.
func BenchmarkProcessStages(b *testing.B) {
	data := photoJPEG12MP(b)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("shrink", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			shrink(img, img.Bounds(), 1024, 768)
		}
	})
	small := shrink(img, img.Bounds(), 1024, 768)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := encodeStill(&buf, small, JPEG); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// animation returns an animated GIF of n dithered photo-like frames of
// w×h, each with its own palette.
func animation(b *testing.B, w, h, n int) []byte {
	g := &gif.GIF{LoopCount: 0}
	for i := range n {
		m := image.NewPaletted(image.Rect(0, 0, w, h), palette.WebSafe)
		draw.FloydSteinberg.Draw(m, m.Rect, photo(w, h, uint64(i)), image.Point{})
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, 5)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkRendition(b *testing.B) {
	jpg, err := Process(photoJPEG12MP(b), DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	anim, err := Process(animation(b, 1024, 768, 8), DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"jpeg-1024x768", jpg.Data},
		{"gif-1024x768x8", anim.Data},
	} {
		for _, size := range []int{64, 512} {
			b.Run(fmt.Sprintf("%s/%d", in.name, size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Rendition(in.data, size); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPNGLevels compares the compression levels Process could use on
// 1024-pixel avatars, reporting the output size: a photo-like picture and
// a flat, graphic one with transparency (the corpus scene scaled up).
func BenchmarkPNGLevels(b *testing.B) {
	scene, err := png.Decode(bytes.NewReader(readTestdata(b, "alpha.png")))
	if err != nil {
		b.Fatal(err)
	}
	graphic := shrink(scene, scene.Bounds(), 1024, 768)
	if m, ok := graphic.(*image.RGBA); ok {
		graphic = unpremultiply(m)
	}
	for _, pic := range []struct {
		name string
		m    image.Image
	}{
		{"photo", photo(1024, 768, 3)},
		{"graphic", graphic},
	} {
		for _, l := range []struct {
			name  string
			level png.CompressionLevel
		}{
			{"BestSpeed", png.BestSpeed},
			{"Default", png.DefaultCompression},
			{"BestCompression", png.BestCompression},
		} {
			b.Run(pic.name+"/"+l.name, func(b *testing.B) {
				enc := png.Encoder{CompressionLevel: l.level}
				var size int
				for b.Loop() {
					var buf bytes.Buffer
					if err := enc.Encode(&buf, pic.m); err != nil {
						b.Fatal(err)
					}
					size = buf.Len()
				}
				b.ReportMetric(float64(size), "bytes")
			})
		}
	}
}

// BenchmarkJPEGQuality compares the qualities Process could use on a
// 1024-pixel photo-like avatar, reporting the output size.
func BenchmarkJPEGQuality(b *testing.B) {
	m := photo(1024, 768, 4)
	for _, q := range []int{75, 85, 90, 95} {
		b.Run(fmt.Sprintf("q%d", q), func(b *testing.B) {
			var size int
			for b.Loop() {
				var buf bytes.Buffer
				if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
					b.Fatal(err)
				}
				size = buf.Len()
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}
