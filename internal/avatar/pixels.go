package avatar

import (
	"image"
	"image/color"
	"image/draw"
)

// The pixel work runs on three concrete types only: *image.Gray for grey
// pictures, 4:2:0 *image.YCbCr for colour JPEGs, and *image.RGBA
// (premultiplied alpha) for everything else. Each function loops over Pix
// slices; nothing per pixel goes through the image.Image interface.

// orient applies an EXIF orientation (1–8) to a *image.Gray, *image.RGBA
// or 4:2:0 *image.YCbCr whose bounds start at (0, 0), returning new memory
// for anything but 1.
func orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	if m, ok := img.(*image.YCbCr); ok && m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		w, h := m.Rect.Dx(), m.Rect.Dy()
		cw, ch := (w+1)/2, (h+1)/2
		y := orientPlane(plane{m.Y, m.YStride, w, h, 1}, o)
		cb := orientPlane(plane{m.Cb, m.CStride, cw, ch, 1}, o)
		cr := orientPlane(plane{m.Cr, m.CStride, cw, ch, 1}, o)
		return &image.YCbCr{Y: y.pix, Cb: cb.pix, Cr: cr.pix, YStride: y.stride, CStride: cb.stride,
			SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: image.Rect(0, 0, y.w, y.h)}
	}
	return orientPlane(planeOf(img), o).image()
}

// orientPlane returns p turned and mirrored by EXIF orientation o (2–8).
func orientPlane(p plane, o int) plane {
	w, h, c := p.w, p.h, p.c
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	// Destination position as (ax·x + bx·y + cx, ay·x + by·y + cy).
	var ax, bx, cx, ay, by, cy int
	switch o {
	case 2: // mirror horizontally
		ax, cx, by = -1, w-1, 1
	case 3: // rotate 180°
		ax, cx, by, cy = -1, w-1, -1, h-1
	case 4: // mirror vertically
		ax, by, cy = 1, -1, h-1
	case 5: // transpose
		bx, ay = 1, 1
	case 6: // rotate 90° clockwise
		bx, cx, ay = -1, h-1, 1
	case 7: // transverse
		bx, cx, ay, cy = -1, h-1, -1, w-1
	case 8: // rotate 90° counter-clockwise
		bx, ay, cy = 1, -1, w-1
	}
	stepX := (ay*dw + ax) * c
	stepY := (by*dw + bx) * c
	base := (cy*dw + cx) * c
	dst := make([]byte, dw*dh*c)
	for y := range h {
		row := p.row(y)
		d := base + y*stepY
		if c == 1 {
			for _, v := range row {
				dst[d] = v
				d += stepX
			}
		} else {
			for x := 0; x < len(row); x += 4 {
				copy(dst[d:d+4], row[x:x+4])
				d += stepX
			}
		}
	}
	return plane{dst, dw * c, dw, dh, c}
}

// Conversions to the two working types. Each returns the part r only, with
// bounds starting at (0, 0) unless it is a view into m.

func ycbcrToRGBA(m *image.YCbCr, r image.Rectangle) *image.RGBA {
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(d, d.Rect, m, r.Min, draw.Src) // the standard library's YCbCr fast path
	return d
}

func gray16ToGray(m *image.Gray16, r image.Rectangle) *image.Gray {
	d := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		src := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):][:2*r.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+r.Dx()]
		for x := range dst {
			dst[x] = src[2*x]
		}
	}
	return d
}

// premultiply converts the part r of m to premultiplied alpha in place and
// returns it as a view.
func premultiply(m *image.NRGBA, r image.Rectangle) *image.RGBA {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := m.Pix[m.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for x := 0; x < len(row); x += 4 {
			p := row[x : x+4 : x+4]
			switch a := uint32(p[3]); a {
			case 0xFF:
			case 0:
				p[0], p[1], p[2] = 0, 0, 0
			default:
				p[0] = byte((uint32(p[0])*a + 127) / 255)
				p[1] = byte((uint32(p[1])*a + 127) / 255)
				p[2] = byte((uint32(p[2])*a + 127) / 255)
			}
		}
	}
	return (&image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}).SubImage(r).(*image.RGBA)
}

// cmykToRGBA converts the part r of m in place (both layouts are four bytes
// a pixel) and returns it as a view. The decoder has already undone Adobe's
// inversion; this is the same naive conversion as color.CMYKToRGB.
func cmykToRGBA(m *image.CMYK, r image.Rectangle) *image.RGBA {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := m.Pix[m.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for x := 0; x < len(row); x += 4 {
			p := row[x : x+4 : x+4]
			p[0], p[1], p[2] = color.CMYKToRGB(p[0], p[1], p[2], p[3])
			p[3] = 0xFF
		}
	}
	return (&image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}).SubImage(r).(*image.RGBA)
}

func palettedToRGBA(m *image.Paletted, r image.Rectangle) *image.RGBA {
	var lut [256][4]byte
	for i := range lut {
		lut[i] = [4]byte{0, 0, 0, 0xFF}
	}
	for i, c := range m.Palette {
		if i >= len(lut) {
			break
		}
		if c == nil {
			continue
		}
		cr, cg, cb, ca := c.RGBA()
		lut[i] = [4]byte{byte(cr >> 8), byte(cg >> 8), byte(cb >> 8), byte(ca >> 8)}
	}
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		src := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):][:r.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+4*r.Dx()]
		for x, v := range src {
			copy(dst[4*x:4*x+4], lut[v][:])
		}
	}
	return d
}

func rgba64ToRGBA(m *image.RGBA64, r image.Rectangle) *image.RGBA {
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		src := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):][:8*r.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+4*r.Dx()]
		for x := range r.Dx() {
			s := src[8*x : 8*x+8 : 8*x+8]
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = s[0], s[2], s[4], s[6]
		}
	}
	return d
}

func nrgba64ToRGBA(m *image.NRGBA64, r image.Rectangle) *image.RGBA {
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		src := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):][:8*r.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+4*r.Dx()]
		for x := range r.Dx() {
			s := src[8*x : 8*x+8 : 8*x+8]
			a := uint32(s[6])<<8 | uint32(s[7])
			for c := range 3 {
				v := uint32(s[2*c])<<8 | uint32(s[2*c+1])
				dst[4*x+c] = byte(v * a / 0xFFFF >> 8)
			}
			dst[4*x+3] = byte(a >> 8)
		}
	}
	return d
}

// opaqueRGBA reports whether every pixel of m has full alpha.
func opaqueRGBA(m *image.RGBA) bool {
	for y := range m.Rect.Dy() {
		row := m.Pix[y*m.Stride : y*m.Stride+4*m.Rect.Dx()]
		for x := 3; x < len(row); x += 4 {
			if row[x] != 0xFF {
				return false
			}
		}
	}
	return true
}

// unpremultiply returns m with straight alpha, for the PNG encoder.
func unpremultiply(m *image.RGBA) *image.NRGBA {
	d := image.NewNRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
	for y := range m.Rect.Dy() {
		src := m.Pix[y*m.Stride : y*m.Stride+4*m.Rect.Dx()]
		dst := d.Pix[y*d.Stride : y*d.Stride+4*m.Rect.Dx()]
		for x := 0; x < len(src); x += 4 {
			s := src[x : x+4 : x+4]
			o := dst[x : x+4 : x+4]
			switch a := uint32(s[3]); a {
			case 0xFF:
				o[0], o[1], o[2], o[3] = s[0], s[1], s[2], 0xFF
			case 0:
				o[0], o[1], o[2], o[3] = 0, 0, 0, 0
			default:
				o[0] = byte(min((uint32(s[0])*255+a/2)/a, 255))
				o[1] = byte(min((uint32(s[1])*255+a/2)/a, 255))
				o[2] = byte(min((uint32(s[2])*255+a/2)/a, 255))
				o[3] = byte(a)
			}
		}
	}
	return d
}
