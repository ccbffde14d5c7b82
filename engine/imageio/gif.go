package imageio

// gifFrames counts the image descriptors in a GIF held in data, stopping at
// limit (a frame count is only needed to tell still from animated). A
// malformed block structure ends the count where it breaks.
func gifFrames(data []byte, limit int) int {
	if len(data) < 13 {
		return 0
	}
	i := 13
	if data[10]&0x80 != 0 { // global colour table
		i += 3 << (data[10]&7 + 1)
	}
	// skipSubBlocks returns the index after a chain of data sub-blocks.
	skipSubBlocks := func(i int) int {
		for i < len(data) {
			n := int(data[i])
			i++
			if n == 0 {
				return i
			}
			i += n
		}
		return len(data)
	}
	frames := 0
	for i < len(data) && frames < limit {
		switch data[i] {
		case 0x21: // extension: label, then sub-blocks
			i = skipSubBlocks(i + 2)
		case 0x2C: // image descriptor
			if i+10 > len(data) {
				return frames
			}
			flags := data[i+9]
			i += 10
			if flags&0x80 != 0 { // local colour table
				i += 3 << (flags&7 + 1)
			}
			frames++
			i = skipSubBlocks(i + 1) // LZW minimum code size, then data
		default: // 0x3B trailer, or garbage
			return frames
		}
	}
	return frames
}
