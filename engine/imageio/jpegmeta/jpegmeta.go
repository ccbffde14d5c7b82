// Package jpegmeta reads the few things Atelier needs from a JPEG's marker
// segments without decoding it: the segments themselves and the EXIF
// orientation. It has no dependencies beyond the standard library, so the
// studio's UI can orient its previews as the engine orients its inputs.
package jpegmeta

import (
	"bytes"
	"encoding/binary"
)

// JPEG markers the studio looks at.
const (
	MarkerSOI   = 0xD8
	MarkerEOI   = 0xD9
	MarkerSOS   = 0xDA
	MarkerAPP1  = 0xE1
	MarkerAPP14 = 0xEE
	MarkerCOM   = 0xFE
)

// Segments walks the marker segments of a JPEG held in data, from just
// after SOI up to (not including) the first SOS or EOI, calling fn with each
// marker and its payload (the bytes after the two length bytes). It stops
// early when fn returns false or when the structure is malformed; it never
// reads past data. It reports whether data starts with SOI.
func Segments(data []byte, fn func(marker byte, payload []byte) bool) bool {
	if len(data) < 2 || data[0] != 0xFF || data[1] != MarkerSOI {
		return false
	}
	i := 2
	for i < len(data) {
		if data[i] != 0xFF {
			return true // garbage between segments: stop quietly
		}
		for i < len(data) && data[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(data) {
			return true
		}
		m := data[i]
		i++
		switch {
		case m == MarkerSOS || m == MarkerEOI:
			return true
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // TEM, RSTn: no length
			continue
		}
		if i+2 > len(data) {
			return true
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 || i+n > len(data) {
			return true
		}
		if !fn(m, data[i+2:i+n]) {
			return true
		}
		i += n
	}
	return true
}

// ExifHeader starts the payload of an APP1 segment that holds EXIF data.
var ExifHeader = []byte("Exif\x00\x00")

// Orientation returns the EXIF orientation (1..8) of the JPEG in data,
// or 1 when there is none or the EXIF data is malformed in any way.
func Orientation(data []byte) int {
	o := 1
	Segments(data, func(m byte, p []byte) bool {
		if m != MarkerAPP1 || !bytes.HasPrefix(p, ExifHeader) {
			return true
		}
		o = TIFFOrientation(p[len(ExifHeader):])
		return false // only the first EXIF segment counts
	})
	return o
}

// TIFFOrientation reads tag 0x0112 (Orientation) from IFD0 of a TIFF
// structure (the body of an EXIF segment). Anything out of bounds or
// unexpected yields 1, the identity.
func TIFFOrientation(b []byte) int {
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
	n := uint64(bo.Uint16(b[off:]))
	for k := uint64(0); k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > uint64(len(b)) {
			return 1
		}
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(b[e+2:]), bo.Uint32(b[e+4:])
		if count < 1 {
			return 1
		}
		var v uint32
		switch typ {
		case 3: // SHORT, the type the standard prescribes
			v = uint32(bo.Uint16(b[e+8:]))
		case 4: // LONG, written by a few broken tools
			v = bo.Uint32(b[e+8:])
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return int(v)
	}
	return 1
}

// OrientedSize is the displayed size of a w x h stored image after the
// EXIF orientation o is applied.
func OrientedSize(w, h, o int) (int, int) {
	if o >= 5 && o <= 8 {
		return h, w
	}
	return w, h
}
