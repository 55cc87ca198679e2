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

// maxScans bounds the scans of a JPEG. A progressive scan can cover every
// block of a component in a few bytes (one end-of-band run), yet the
// decoder walks all the blocks for it: a file of repeated tiny scans makes
// megabytes of input cost minutes of CPU. Encoders write 1 to 4 scans for
// a baseline picture and about 10 for a progressive one (libjpeg's
// default); a few dozen at most with exotic scan scripts.
const maxScans = 100

// jpegScans counts the scans (SOS segments) of a JPEG up to limit+1,
// skipping entropy-coded data byte by byte. It reads nothing else.
func jpegScans(data []byte, limit int) int {
	scans := 0
	pos := 2
	for pos+4 <= len(data) && scans <= limit {
		if data[pos] != 0xFF {
			return scans
		}
		m := data[pos+1]
		if m == 0xFF {
			pos++
			continue
		}
		pos += 2
		switch {
		case m == 0x01 || m == 0xD8 || 0xD0 <= m && m <= 0xD7:
			continue
		case m == 0xD9:
			return scans
		}
		n := int(data[pos])<<8 | int(data[pos+1])
		if n < 2 {
			return scans
		}
		pos += n
		if m != 0xDA {
			continue
		}
		scans++
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
	return scans
}
