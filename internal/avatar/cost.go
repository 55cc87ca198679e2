package avatar

// ProcessCost estimates, from the headers alone, the most memory in bytes
// that Process(data, lim) holds at once. It refuses what Process would
// refuse before decoding (not an image, over the pixel budget) with the
// same *RejectError, so a caller can reserve memory before any pixel is
// decoded.
func ProcessCost(data []byte, lim Limits) (int64, error) {
	lim = lim.orDefault()
	return cost(data, lim, plan{side: lim.MaxSide})
}

// RenditionCost is ProcessCost for RenditionWithLimits(data, size, lim).
func RenditionCost(data []byte, size int, lim Limits) (int64, error) {
	return cost(data, lim.orDefault(), plan{side: size, square: true})
}

// cost is a first, deliberately generous estimate: eight bytes a pixel of
// the whole picture (every frame of a GIF) plus the output.
func cost(data []byte, lim Limits, p plan) (int64, error) {
	f, ok := Sniff(data)
	if !ok {
		return 0, errNotImage()
	}
	var pixels int64
	if f == GIF {
		g, err := walkGIF(data)
		if err != nil {
			return 0, err
		}
		if err := checkGIF(g, lim); err != nil {
			return 0, err
		}
		pixels = int64(g.width) * int64(g.height) * int64(g.frames+2)
	} else {
		cfg, err := decodeConfig(data, f)
		if err != nil {
			return 0, err
		}
		if err := checkSize(cfg.Width, cfg.Height, lim); err != nil {
			return 0, err
		}
		pixels = int64(cfg.Width) * int64(cfg.Height)
	}
	return 8*pixels + 8*int64(p.side)*int64(p.side) + int64(len(data)), nil
}
