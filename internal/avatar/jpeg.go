package avatar

import "encoding/binary"

// jpegOrientation returns the EXIF Orientation (1–8) of a JPEG, or 1 when it
// has none or it cannot be read. Like browsers, it takes the first APP1
// "Exif" segment before the first scan. It reads only marker lengths and
// one IFD, so it is linear in len(data) whatever the bytes are.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	pos := 2
	for pos+4 <= len(data) {
		if data[pos] != 0xFF {
			return 1
		}
		m := data[pos+1]
		if m == 0xFF { // fill byte before a marker
			pos++
			continue
		}
		pos += 2
		switch {
		case m == 0x01 || m == 0xD8 || 0xD0 <= m && m <= 0xD7:
			continue // markers without a length
		case m == 0xD9 || m == 0xDA:
			return 1 // end of image or start of scan: no more headers
		}
		n := int(data[pos])<<8 | int(data[pos+1])
		if n < 2 || pos+n > len(data) {
			return 1
		}
		if seg := data[pos+2 : pos+n]; m == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		pos += n
	}
	return 1
}

// tiffOrientation reads tag 0x0112 (Orientation, one SHORT) from IFD0 of a
// TIFF structure, the body of an Exif segment.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(b[2:]) != 42 {
		return 1
	}
	off := uint64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > uint64(len(b)) {
		return 1
	}
	n := int(bo.Uint16(b[off:]))
	p := int(off) + 2
	for i := 0; i < n && p+12 <= len(b); i, p = i+1, p+12 {
		e := b[p : p+12]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		const typeShort = 3
		if bo.Uint16(e[2:]) != typeShort || bo.Uint32(e[4:]) != 1 {
			return 1
		}
		if v := int(bo.Uint16(e[8:])); 1 <= v && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// jpegFrame is what walkJPEG learns from a JPEG's segments without
// decoding any entropy-coded data.
type jpegFrame struct {
	width, height int
	nComp         int
	h, v          [4]int // sampling factors, in frame order
	ids           [4]byte
	progressive   bool
	jfif          bool
	adobe         bool // an Adobe APP14 segment was seen
	adobeXform    byte
	// visits is the decoder's walk in blocks: for every scan, the MCUs
	// times the blocks an MCU holds of the scan's components (the decoder
	// visits every one of them, whatever the scan's bytes say).
	visits int64
	scans  int
	// scanned marks the components some scan covers: the progressive
	// decoder keeps coefficients for those only.
	scanned [4]bool
	end     int // offset just past the last segment read
}

// mcus returns the number of MCUs the decoder lays the frame out in.
func (f *jpegFrame) mcus() int64 {
	mxx := (f.width + 8*f.h[0] - 1) / (8 * f.h[0])
	myy := (f.height + 8*f.v[0] - 1) / (8 * f.v[0])
	return int64(mxx) * int64(myy)
}

// blocksPerMCU returns the blocks of every component in one MCU.
func (f *jpegFrame) blocksPerMCU() int64 {
	var n int64
	for i := range f.nComp {
		n += int64(f.h[i] * f.v[i])
	}
	return n
}

// maxVisits bounds a progressive JPEG's decoding work, in visits of the
// whole frame's blocks. A progressive scan can cover every block of a
// component in a few bytes (one end-of-band run), yet the decoder walks
// all of them for it. libjpeg's default progressive script walks the
// frame about 5.3 times for 4:2:0 colour and 6 times for grey or CMYK
// (a DC scan and its refinement over every component, then two AC scans
// and their refinements per component); 8 leaves room for other scripts
// while keeping the worst accepted 50-megapixel file near a second of CPU.
// A sequential JPEG gets exactly one walk: each component is coded once.
const maxVisits = 8

// walkJPEG reads a JPEG's segments the way image/jpeg does — lengths, the
// frame header, the APP0/APP14 markers that decide its colour model, and
// the component list of each scan — skipping entropy-coded data byte by
// byte, up to the end-of-image marker. It stops early, with end where it
// stopped, once the scans exceed the work bound. It is linear in len(data)
// and allocates nothing. Like the decoder, it skips stray bytes between
// segments.
func walkJPEG(data []byte) jpegFrame {
	var f jpegFrame
	pos := 2
	for pos+2 <= len(data) {
		if data[pos] != 0xFF {
			pos++ // extraneous data, which the decoder ignores too
			continue
		}
		m := data[pos+1]
		if m == 0xFF { // fill byte before a marker
			pos++
			continue
		}
		pos += 2
		switch {
		case m == 0x00 || m == 0x01 || m == 0xD8 || 0xD0 <= m && m <= 0xD7:
			continue // markers without a length
		case m == 0xD9:
			f.end = pos
			return f
		}
		if pos+2 > len(data) {
			break
		}
		n := int(data[pos])<<8 | int(data[pos+1])
		if n < 2 || pos+n > len(data) {
			break
		}
		seg := data[pos+2 : pos+n]
		pos += n
		switch {
		case m == 0xC0 || m == 0xC1 || m == 0xC2:
			if f.nComp != 0 || len(seg) < 6 {
				break
			}
			nc := int(seg[5])
			if nc != 1 && nc != 3 && nc != 4 || len(seg) != 6+3*nc {
				break
			}
			f.height = int(seg[1])<<8 | int(seg[2])
			f.width = int(seg[3])<<8 | int(seg[4])
			f.progressive = m == 0xC2
			for i := range nc {
				f.ids[i] = seg[6+3*i]
				f.h[i], f.v[i] = max(int(seg[7+3*i]>>4), 1), max(int(seg[7+3*i]&15), 1)
			}
			if nc == 1 {
				f.h[0], f.v[0] = 1, 1 // the decoder ignores a lone component's factors
			}
			f.nComp = nc
		case m == 0xE0:
			f.jfif = f.jfif || len(seg) >= 5 && string(seg[:5]) == "JFIF\x00"
		case m == 0xEE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				f.adobe, f.adobeXform = true, seg[11]
			}
		case m == 0xDA:
			f.scans++
			if f.nComp > 0 && len(seg) >= 1 {
				var per int64
				for i := 0; i < int(seg[0]) && 1+2*i < len(seg); i++ {
					for j := range f.nComp {
						if f.ids[j] == seg[1+2*i] {
							per += int64(f.h[j] * f.v[j])
							f.scanned[j] = true
							break
						}
					}
				}
				f.visits += per * f.mcus()
				if f.visits > f.allowedVisits() {
					f.end = pos
					return f
				}
			}
			// Entropy-coded data runs to the next marker other than a
			// stuffed zero or a restart marker.
			for pos+1 < len(data) {
				if data[pos] == 0xFF {
					if next := data[pos+1]; next != 0 && (next < 0xD0 || next > 0xD7) {
						break
					}
				}
				pos++
			}
		}
	}
	f.end = len(data)
	return f
}

// allowedVisits is the most block visits the frame's scans may cause.
func (f *jpegFrame) allowedVisits() int64 {
	walk := f.mcus() * f.blocksPerMCU()
	if f.progressive {
		return maxVisits * walk
	}
	return walk
}

// checkJPEGWork refuses a JPEG whose scans would make the decoder walk its
// blocks more often than any ordinary encoder does.
func checkJPEGWork(f *jpegFrame) error {
	if f.nComp == 0 || f.visits <= f.allowedVisits() {
		return nil
	}
	if !f.progressive {
		return reject("JPEG codes its components more than once (%d scans)", f.scans)
	}
	return reject("progressive JPEG has too many scans for its size: the decoder would walk its blocks more than %d times", maxVisits)
}
