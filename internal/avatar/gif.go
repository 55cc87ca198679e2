package avatar

import (
	"bytes"
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"
	"slices"
)

// gifInfo is what walkGIF learns from a GIF's blocks without decoding any
// pixel data.
type gifInfo struct {
	width, height int // logical screen
	frames        int
	pixels        int64 // the frames' own areas, summed
	interlaced    int64 // the same for interlaced frames only
	restores      bool  // some frame is disposed of to the previous picture
	end           int   // offset just past the last block read
	trailer       bool  // whether the last block was the trailer
}

// walkGIF reads a GIF's block structure the way image/gif does, skipping
// colour tables, extensions and image data by their lengths, so that the
// frame count and the logical screen are known before anything is
// allocated. It is linear in len(data) and allocates nothing.
//
// Frames must fit in the logical screen (image/gif refuses others anyway),
// which makes the screen area a bound on every frame's area.
func walkGIF(data []byte) (gifInfo, error) {
	var g gifInfo
	if len(data) < 13 {
		return g, errCorrupt()
	}
	g.width = int(data[6]) | int(data[7])<<8
	g.height = int(data[8]) | int(data[9])<<8
	flags := data[10]
	hasGlobal := flags&0x80 != 0
	pos := 13
	if hasGlobal {
		pos += 3 << (1 + flags&7)
	}
	// subBlocks skips data sub-blocks up to and including the terminator.
	subBlocks := func() bool {
		for {
			if pos >= len(data) {
				return false
			}
			n := int(data[pos])
			pos += 1 + n
			if n == 0 {
				return true
			}
		}
	}
	for {
		if pos > len(data) {
			return g, errCorrupt()
		}
		if pos == len(data) {
			// No trailer. Browsers show such files; take them if the
			// last block was complete.
			if g.frames == 0 {
				return g, errCorrupt()
			}
			g.end = pos
			return g, nil
		}
		switch data[pos] {
		case 0x21: // extension
			if pos+2 > len(data) {
				return g, errCorrupt()
			}
			label := data[pos+1]
			pos += 2
			switch label {
			case 0xF9: // graphic control: fixed size
				if pos+6 > len(data) || data[pos] != 4 || data[pos+5] != 0 {
					return g, errCorrupt()
				}
				if data[pos+1]>>2&7 == gif.DisposalPrevious {
					g.restores = true
				}
				pos += 6
			case 0x01: // plain text: a 13-byte header, then sub-blocks
				pos += 13
			case 0xFF: // application: a sized identifier, then sub-blocks
				if pos >= len(data) {
					return g, errCorrupt()
				}
				pos += 1 + int(data[pos])
			case 0xFE: // comment: sub-blocks only
			default:
				return g, errCorrupt()
			}
			if label != 0xF9 && (pos > len(data) || !subBlocks()) {
				return g, errCorrupt()
			}
		case 0x2C: // image descriptor
			if pos+10 > len(data) {
				return g, errCorrupt()
			}
			d := data[pos+1 : pos+10]
			left, top := int(d[0])|int(d[1])<<8, int(d[2])|int(d[3])<<8
			w, h := int(d[4])|int(d[5])<<8, int(d[6])|int(d[7])<<8
			if left+w > g.width || top+h > g.height {
				return g, errCorrupt()
			}
			pos += 10
			if d[8]&0x80 != 0 {
				pos += 3 << (1 + d[8]&7)
			} else if !hasGlobal {
				return g, errCorrupt()
			}
			if pos >= len(data) || data[pos] < 2 || data[pos] > 8 {
				return g, errCorrupt()
			}
			pos++ // LZW minimum code size
			if !subBlocks() {
				return g, errCorrupt()
			}
			g.frames++
			g.pixels += int64(w) * int64(h)
			if d[8]&0x40 != 0 {
				g.interlaced += int64(w) * int64(h)
			}
		case 0x3B: // trailer
			if g.frames == 0 {
				return g, errCorrupt()
			}
			g.end, g.trailer = pos+1, true
			return g, nil
		default:
			return g, errCorrupt()
		}
	}
}

// checkGIF applies the frame and pixel budgets.
func checkGIF(g gifInfo, lim Limits) error {
	if g.width == 0 || g.height == 0 {
		return errEmpty()
	}
	if g.frames > lim.MaxFrames {
		return reject("animation has %d frames; the limit is %d", g.frames, lim.MaxFrames)
	}
	area := int64(g.width) * int64(g.height)
	if g.frames == 1 || area > lim.MaxPixels {
		if err := checkSize(g.width, g.height, lim); err != nil {
			return err
		}
	} else if total := area * int64(g.frames); total > lim.MaxPixels {
		return reject("animation has %d frames of %d×%d pixels, %s megapixels in all; the limit is %s megapixels",
			g.frames, g.width, g.height, megapixels(total), megapixels(lim.MaxPixels))
	}
	return checkAspect(g.width, g.height)
}

func processGIF(data []byte, lim Limits, p plan) (Image, error) {
	info, err := walkGIF(data)
	if err != nil {
		return Image{}, err
	}
	if err := checkGIF(info, lim); err != nil {
		return Image{}, err
	}

	// Decode exactly the blocks that were counted.
	var r io.Reader = bytes.NewReader(data[:info.end])
	if !info.trailer {
		r = io.MultiReader(r, bytes.NewReader([]byte{0x3B}))
	}
	var g *gif.GIF
	err = guard(func() (err error) {
		g, err = gif.DecodeAll(r)
		return err
	})
	if err != nil {
		return Image{}, decodeError(err)
	}
	if len(g.Image) == 0 || len(g.Image) > info.frames {
		return Image{}, errCorrupt()
	}

	crop, dw, dh := p.geometry(info.width, info.height)
	out := g
	if crop != image.Rect(0, 0, info.width, info.height) || dw != info.width || dh != info.height {
		out = composite(g, info.width, info.height, crop, dw, dh)
	}
	// Otherwise the decoded frames go back as they came: the encoder writes
	// the frames, palettes, delays, disposals and the loop count, and no
	// other extension.
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, out); err != nil {
		return Image{}, fmt.Errorf("%w: encoding GIF: %v", errInternal, err)
	}
	return Image{Data: buf.Bytes(), Format: GIF, Width: out.Config.Width, Height: out.Config.Height, Frames: len(out.Image)}, nil
}

// composite plays the animation the way a browser does — frames drawn onto
// a transparent canvas of the logical screen, then disposed of — and scales
// the part crop of every resulting picture to dw×dh. Each output frame is a
// whole picture, disposed of to the background, so no frame depends on the
// one before it.
func composite(g *gif.GIF, w, h int, crop image.Rectangle, dw, dh int) *gif.GIF {
	canvas := image.NewRGBA(image.Rect(0, 0, w, h))
	var saved []byte
	out := &gif.GIF{
		Image:     make([]*image.Paletted, 0, len(g.Image)),
		Delay:     make([]int, 0, len(g.Image)),
		Disposal:  make([]byte, 0, len(g.Image)),
		LoopCount: g.LoopCount,
		Config:    image.Config{Width: dw, Height: dh},
	}
	q := newQuantizer()
	union := map[uint32]struct{}{} // every opaque colour of every frame, while it fits a palette
	transparent := false
	for i, fr := range g.Image {
		var disposal byte
		if i < len(g.Disposal) {
			disposal = g.Disposal[i]
		}
		if disposal == gif.DisposalPrevious {
			saved = append(saved[:0], canvas.Pix...)
		}
		drawPaletted(canvas, fr)

		scaled := shrink(canvas, crop, dw, dh).(*image.RGBA)
		pm, hasTransparent := q.quantize(scaled, canvas.SubImage(crop).(*image.RGBA))
		transparent = transparent || hasTransparent
		if union != nil {
			for _, c := range pm.Palette {
				if r, g, b, a := c.RGBA(); a != 0 {
					union[r>>8<<16|g>>8<<8|b>>8] = struct{}{}
				}
			}
			if len(union) > 256 {
				union = nil
			}
		}
		out.Image = append(out.Image, pm)
		delay := 0
		if i < len(g.Delay) {
			delay = g.Delay[i]
		}
		out.Delay = append(out.Delay, delay)
		out.Disposal = append(out.Disposal, gif.DisposalBackground)

		switch disposal {
		case gif.DisposalBackground:
			// Browsers clear to transparent, whatever the background colour.
			clearRect(canvas, fr.Rect)
		case gif.DisposalPrevious:
			copy(canvas.Pix, saved)
		}
	}
	if !transparent {
		for i := range out.Disposal {
			out.Disposal[i] = gif.DisposalNone
		}
	}
	if union != nil && len(union)+boolInt(transparent) <= 256 {
		shareGlobalPalette(out, union, transparent)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// drawPaletted draws a frame onto the canvas; its transparent pixels leave
// the canvas as it was.
func drawPaletted(dst *image.RGBA, src *image.Paletted) {
	var lut [256]uint32 // RGBA, 0 for transparent
	for i, c := range src.Palette {
		if i >= len(lut) || c == nil {
			break
		}
		r, g, b, a := c.RGBA()
		if a != 0 {
			lut[i] = r>>8<<24 | g>>8<<16 | b>>8<<8 | 0xFF
		}
	}
	r := src.Rect.Intersect(dst.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		s := src.Pix[src.PixOffset(r.Min.X, y):][:r.Dx()]
		d := dst.Pix[dst.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for x, v := range s {
			c := lut[v]
			if c == 0 {
				continue
			}
			p := d[4*x : 4*x+4 : 4*x+4]
			p[0], p[1], p[2], p[3] = byte(c>>24), byte(c>>16), byte(c>>8), 0xFF
		}
	}
}

func clearRect(m *image.RGBA, r image.Rectangle) {
	r = r.Intersect(m.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		clear(m.Pix[m.PixOffset(r.Min.X, y):][:4*r.Dx()])
	}
}

// shareGlobalPalette moves every frame onto one global palette (the union
// of their colours), so the file carries one colour table, not one per
// frame.
func shareGlobalPalette(g *gif.GIF, union map[uint32]struct{}, transparent bool) {
	keys := make([]uint32, 0, len(union))
	for k := range union {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	global := make(color.Palette, 0, len(keys)+1)
	index := make(map[uint32]byte, len(keys))
	for i, k := range keys {
		global = append(global, color.RGBA{byte(k >> 16), byte(k >> 8), byte(k), 0xFF})
		index[k] = byte(i)
	}
	ti := byte(len(global))
	if transparent {
		global = append(global, color.RGBA{})
	}
	for _, pm := range g.Image {
		var lut [256]byte
		for i, c := range pm.Palette {
			r, gg, b, a := c.RGBA()
			if a == 0 {
				lut[i] = ti
			} else {
				lut[i] = index[r>>8<<16|gg>>8<<8|b>>8]
			}
		}
		for i, v := range pm.Pix {
			pm.Pix[i] = lut[v]
		}
		pm.Palette = global
	}
	g.Config.ColorModel = global
}

// quantizer maps scaled RGBA frames back to palettes. It prefers the exact
// colours of the unscaled frame (a GIF rarely has more than 256 on screen
// at once), so flat areas keep their colours and only the blended edges
// move to the nearest one; it falls back to median cut otherwise.
type quantizer struct {
	hist  []histBin // median cut's histogram, reused
	used  []int     // median cut's list of used bins, reused
	cells []int32   // nearest's cell table, reused
	cand  []uint16  // nearest's candidate lists, reused
}

type histBin struct {
	r, g, b, n uint64
}

func newQuantizer() *quantizer { return &quantizer{} }

// alphaThreshold: scaled pixels at least this opaque are drawn, the rest
// are transparent (GIF has no partial transparency).
const alphaThreshold = 0x80

// quantize returns scaled as a paletted picture and whether it has
// transparent pixels. source is the unscaled picture it came from.
func (q *quantizer) quantize(scaled, source *image.RGBA) (*image.Paletted, bool) {
	transparent := false
	for i := 3; i < len(scaled.Pix); i += 4 {
		if scaled.Pix[i] < alphaThreshold {
			transparent = true
			break
		}
	}
	room := 256 - boolInt(transparent)
	colors := distinctColors(source, room)
	if colors == nil {
		colors = q.medianCut(scaled, room)
	}
	pal := make(color.Palette, 0, len(colors)+1)
	for _, c := range colors {
		pal = append(pal, color.RGBA{byte(c >> 16), byte(c >> 8), byte(c), 0xFF})
	}
	ti := byte(len(pal))
	if transparent || len(pal) == 0 {
		pal = append(pal, color.RGBA{})
	}

	b := scaled.Rect
	pm := &image.Paletted{Pix: make([]byte, b.Dx()*b.Dy()), Stride: b.Dx(), Rect: b, Palette: pal}
	if q.cells == nil {
		q.cells = make([]int32, 1<<(3*(8-cellBits)))
		// Room for every cell a frame can meet, so the lists never grow.
		q.cand = make([]uint16, 0, candRoom(b.Dx()*b.Dy()))
	}
	nearest := newNearest(colors, q.cells, q.cand[:0])
	defer func() { q.cand = nearest.cand[:0] }()
	for y := range b.Dy() {
		row := scaled.Pix[y*scaled.Stride : y*scaled.Stride+4*b.Dx()]
		out := pm.Pix[y*pm.Stride : (y+1)*pm.Stride]
		for x := range out {
			p := row[4*x : 4*x+4 : 4*x+4]
			a := uint32(p[3])
			if a < alphaThreshold || len(colors) == 0 {
				out[x] = ti
				continue
			}
			r, g, bb := uint32(p[0]), uint32(p[1]), uint32(p[2])
			if a != 0xFF {
				r, g, bb = min(r*255/a, 255), min(g*255/a, 255), min(bb*255/a, 255)
			}
			out[x] = nearest.index(r<<16 | g<<8 | bb)
		}
	}
	return pm, transparent
}

// distinctColors returns the sorted opaque colours of m as 0xRRGGBB, or nil
// if there are more than limit.
func distinctColors(m *image.RGBA, limit int) []uint32 {
	seen := make(map[uint32]struct{}, 64)
	last := uint32(1 << 31) // no colour
	for y := range m.Rect.Dy() {
		row := m.Pix[y*m.Stride : y*m.Stride+4*m.Rect.Dx()]
		for x := 0; x < len(row); x += 4 {
			if row[x+3] == 0 {
				continue
			}
			c := uint32(row[x])<<16 | uint32(row[x+1])<<8 | uint32(row[x+2])
			if c == last {
				continue
			}
			last = c
			if _, ok := seen[c]; !ok {
				if len(seen) == limit {
					return nil
				}
				seen[c] = struct{}{}
			}
		}
	}
	colors := make([]uint32, 0, len(seen))
	for c := range seen {
		colors = append(colors, c)
	}
	slices.Sort(colors)
	return colors
}

// nearest finds the closest palette colour (squared RGB distance, ties to
// the lower index) without comparing against the whole palette: colour
// space is cut into 8×8×8 cells, and the first time a cell is met it gets
// the list of palette colours that can be nearest to any point in it —
// those whose least distance to the cell is at most the smallest greatest
// distance of any colour. Exact, and a few comparisons a pixel. A cell
// with more than maxCand candidates searches the whole palette instead,
// which bounds the lists' memory by the cells alone.
type nearest struct {
	pal   []int32  // r, g, b of each palette colour
	cells []int32  // per cell: 0 if not yet met, -1 for the whole palette, else 1 + offset in cand
	cand  []uint16 // per met cell: the count, then palette indices
	last  uint32
	lastI byte
}

const (
	cellBits = 3  // cells are 2^cellBits on a side
	maxCand  = 16 // the longest candidate list kept
)

// candRoom is the most candidate-list entries frames of n pixels need: a
// count and maxCand indices for each cell met, plus one list being built.
func candRoom(n int) int {
	return min(n, 1<<(3*(8-cellBits)))*(1+maxCand) + 257
}

func newNearest(colors []uint32, cells []int32, cand []uint16) *nearest {
	n := &nearest{pal: make([]int32, 0, 3*len(colors)), cells: cells, cand: cand, last: 1 << 31}
	clear(n.cells)
	for _, c := range colors {
		n.pal = append(n.pal, int32(c>>16), int32(c>>8&0xFF), int32(c&0xFF))
	}
	return n
}

func (n *nearest) index(c uint32) byte {
	if c == n.last {
		return n.lastI
	}
	r, g, b := int32(c>>16), int32(c>>8&0xFF), int32(c&0xFF)
	const s = cellBits
	cell := r>>s<<(16-2*s) | g>>s<<(8-s) | b>>s
	o := n.cells[cell]
	if o == 0 {
		o = n.fill(r>>s<<s, g>>s<<s, b>>s<<s)
		n.cells[cell] = o
	}
	best, bi := int32(1<<31-1), 0
	if o < 0 {
		for i := 0; i < len(n.pal); i += 3 {
			p := n.pal[i : i+3 : i+3]
			dr, dg, db := r-p[0], g-p[1], b-p[2]
			if d := dr*dr + dg*dg + db*db; d < best {
				best, bi = d, i/3
			}
		}
	} else {
		for _, i := range n.cand[o : o+int32(n.cand[o-1])] {
			p := n.pal[3*int(i) : 3*int(i)+3 : 3*int(i)+3]
			dr, dg, db := r-p[0], g-p[1], b-p[2]
			if d := dr*dr + dg*dg + db*db; d < best {
				best, bi = d, int(i)
			}
		}
	}
	n.last, n.lastI = c, byte(bi)
	return byte(bi)
}

// fill makes the candidate list of the cell whose lowest corner is
// (r0, g0, b0) and returns its offset, or -1 if the list would be longer
// than maxCand.
func (n *nearest) fill(r0, g0, b0 int32) int32 {
	lo := [3]int32{r0, g0, b0}
	const side = 1<<cellBits - 1
	far := func(p, lo int32) int32 { return max(p-lo, lo+side-p) }
	near := func(p, lo int32) int32 {
		switch {
		case p < lo:
			return lo - p
		case p > lo+side:
			return p - lo - side
		}
		return 0
	}
	bound := int32(1<<31 - 1)
	for i := 0; i < len(n.pal); i += 3 {
		var d int32
		for a := range 3 {
			f := far(n.pal[i+a], lo[a])
			d += f * f
		}
		bound = min(bound, d)
	}
	n.cand = append(n.cand, 0)
	o := int32(len(n.cand))
	for i := 0; i < len(n.pal); i += 3 {
		var d int32
		for a := range 3 {
			f := near(n.pal[i+a], lo[a])
			d += f * f
		}
		if d <= bound {
			n.cand = append(n.cand, uint16(i/3))
		}
	}
	count := int32(len(n.cand)) - o
	if count > maxCand {
		n.cand = n.cand[:o-1]
		return -1
	}
	n.cand[o-1] = uint16(count)
	return o
}

// medianCut picks at most limit colours for the opaque pixels of m: a
// histogram at 5 bits a channel, boxes split at the weighted median of
// their longest side, each box's colour the mean of its pixels.
func (q *quantizer) medianCut(m *image.RGBA, limit int) []uint32 {
	const bins = 1 << 15
	if q.hist == nil {
		q.hist = make([]histBin, bins)
	}
	clear(q.hist)
	for y := range m.Rect.Dy() {
		row := m.Pix[y*m.Stride : y*m.Stride+4*m.Rect.Dx()]
		for x := 0; x < len(row); x += 4 {
			a := uint32(row[x+3])
			if a < alphaThreshold {
				continue
			}
			r, g, b := uint32(row[x]), uint32(row[x+1]), uint32(row[x+2])
			if a != 0xFF {
				r, g, b = min(r*255/a, 255), min(g*255/a, 255), min(b*255/a, 255)
			}
			h := &q.hist[r>>3<<10|g>>3<<5|b>>3]
			h.r += uint64(r)
			h.g += uint64(g)
			h.b += uint64(b)
			h.n++
		}
	}
	if q.used == nil {
		q.used = make([]int, 0, bins)
	}
	used := q.used[:0]
	for i := range q.hist {
		if q.hist[i].n != 0 {
			used = append(used, i)
		}
	}
	q.used = used
	if len(used) == 0 {
		return nil
	}
	type cbox struct {
		idx   []int // histogram bins
		n     uint64
		axis  int
		width int
	}
	measure := func(idx []int) cbox {
		lo, hi := [3]int{31, 31, 31}, [3]int{}
		var n uint64
		for _, i := range idx {
			for a := range 3 {
				v := i >> (10 - 5*a) & 31
				lo[a], hi[a] = min(lo[a], v), max(hi[a], v)
			}
			n += q.hist[i].n
		}
		b := cbox{idx: idx, n: n}
		for a := range 3 {
			if hi[a]-lo[a] > b.width {
				b.axis, b.width = a, hi[a]-lo[a]
			}
		}
		return b
	}
	boxes := []cbox{measure(used)}
	for len(boxes) < limit {
		// Split the box with the most pixels times extent.
		best := -1
		var bestScore uint64
		for i, b := range boxes {
			if s := b.n * uint64(b.width); b.width > 0 && s >= bestScore {
				best, bestScore = i, s
			}
		}
		if best < 0 {
			break
		}
		b := boxes[best]
		shift := 10 - 5*b.axis
		slices.SortFunc(b.idx, func(x, y int) int { return cmp.Compare(x>>shift&31, y>>shift&31) })
		var acc uint64
		cut := 1
		for i, bin := range b.idx {
			acc += q.hist[bin].n
			if acc*2 >= b.n {
				cut = i + 1
				break
			}
		}
		// Never cut between two bins of the same value on the axis, and
		// never leave a side empty.
		for cut < len(b.idx) && b.idx[cut]>>shift&31 == b.idx[cut-1]>>shift&31 {
			cut++
		}
		if cut == len(b.idx) {
			cut = len(b.idx) - 1
			for cut > 0 && b.idx[cut]>>shift&31 == b.idx[cut-1]>>shift&31 {
				cut--
			}
		}
		boxes[best] = measure(b.idx[:cut:cut])
		boxes = append(boxes, measure(b.idx[cut:]))
	}
	colors := make([]uint32, 0, len(boxes))
	seen := make(map[uint32]bool, len(boxes))
	for _, b := range boxes {
		var r, g, bl, n uint64
		for _, i := range b.idx {
			h := q.hist[i]
			r, g, bl, n = r+h.r, g+h.g, bl+h.b, n+h.n
		}
		c := uint32((r+n/2)/n)<<16 | uint32((g+n/2)/n)<<8 | uint32((bl+n/2)/n)
		if !seen[c] {
			seen[c] = true
			colors = append(colors, c)
		}
	}
	slices.Sort(colors)
	return colors
}
