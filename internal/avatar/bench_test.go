package avatar

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// photo returns a w×h picture that compresses like a photograph: smooth
// gradients and soft blobs with some sensor-like noise.
func photo(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	fw, fh := float64(w), float64(h)
	for y := range h {
		row := m.Pix[y*m.Stride : y*m.Stride+4*w]
		fy := float64(y) / fh
		for x := range w {
			fx := float64(x) / fw
			r := 120 + 80*math.Sin(3*fx+1.3*fy) + 30*math.Cos(11*fx*fy)
			g := 110 + 70*math.Cos(2.2*fy-fx) + 25*math.Sin(17*fx)
			b := 100 + 90*math.Sin(1.7*fx+2.9*fy+0.5) + 20*math.Cos(23*fy)
			n := rng.NormFloat64() * 4
			row[4*x] = clampF(r + n)
			row[4*x+1] = clampF(g + n)
			row[4*x+2] = clampF(b + n)
			row[4*x+3] = 0xFF
		}
	}
	return m
}

func clampF(v float64) byte {
	return byte(math.Max(0, math.Min(255, math.Round(v))))
}

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

func BenchmarkRendition(b *testing.B) {
	stored, err := Process(photoJPEG12MP(b), DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{64, 512} {
		b.Run(stored.Format.String()+"-"+itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Rendition(stored.Data, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string {
	return string(rune('0'+n/100%10)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

// BenchmarkPNGLevels compares the compression levels Process could use on
// a 1024-pixel photo-like avatar, reporting the output size.
func BenchmarkPNGLevels(b *testing.B) {
	m := photo(1024, 768, 3)
	for _, l := range []struct {
		name  string
		level png.CompressionLevel
	}{
		{"BestSpeed", png.BestSpeed},
		{"Default", png.DefaultCompression},
		{"BestCompression", png.BestCompression},
	} {
		b.Run(l.name, func(b *testing.B) {
			enc := png.Encoder{CompressionLevel: l.level}
			var size int
			for b.Loop() {
				var buf bytes.Buffer
				if err := enc.Encode(&buf, m); err != nil {
					b.Fatal(err)
				}
				size = buf.Len()
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}
