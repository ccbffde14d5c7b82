package imageio

import (
	"bytes"
	"encoding/binary"
)

// makeDCJPEG hand-assembles a baseline JPEG of w x h pixels (multiples of
// 8) with nc components, no subsampling and every 8x8 block a solid value
// val(component, blockX, blockY). With an all-ones quantisation table and
// only DC coefficients such a file decodes exactly to the stored values,
// which lets tests build CMYK, YCCK and Adobe-less 4-component JPEGs (which
// Go's encoder cannot write) with known sample values. adobe >= 0 adds an
// Adobe APP14 segment with that colour transform (0 CMYK/RGB, 1 YCbCr, 2
// YCCK); adobe < 0 leaves it out.
func makeDCJPEG(w, h, nc, adobe int, val func(c, bx, by int) uint8) []byte {
	var b bytes.Buffer
	seg := func(marker byte, payload []byte) {
		b.Write([]byte{0xFF, marker})
		binary.Write(&b, binary.BigEndian, uint16(len(payload)+2))
		b.Write(payload)
	}
	b.Write([]byte{0xFF, 0xD8})
	if adobe >= 0 {
		seg(0xEE, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, byte(adobe)})
	}
	dqt := make([]byte, 65)
	for i := 1; i < 65; i++ {
		dqt[i] = 1
	}
	seg(0xDB, dqt)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(nc)}
	for c := 0; c < nc; c++ {
		sof = append(sof, byte(c+1), 0x11, 0)
	}
	seg(0xC0, sof)
	// DC table 0: the standard luminance DC table (categories 0..11).
	dcBits := []byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	dht := append([]byte{0x00}, dcBits...)
	for v := 0; v < 12; v++ {
		dht = append(dht, byte(v))
	}
	// AC table 0: a single one-bit code "0" for EOB.
	dht = append(dht, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00)
	seg(0xC4, dht)
	sos := []byte{byte(nc)}
	for c := 0; c < nc; c++ {
		sos = append(sos, byte(c+1), 0x00)
	}
	seg(0xDA, append(sos, 0, 63, 0))

	// Canonical codes of the DC table.
	var codes [12]struct{ code, n uint32 }
	code, k := uint32(0), 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < int(dcBits[l-1]); i++ {
			codes[k].code, codes[k].n = code, uint32(l)
			code++
			k++
		}
		code <<= 1
	}
	var acc uint64
	var nacc uint32
	put := func(v, n uint32) {
		acc = acc<<n | uint64(v)&(1<<n-1)
		nacc += n
		for nacc >= 8 {
			by := byte(acc >> (nacc - 8))
			b.WriteByte(by)
			if by == 0xFF {
				b.WriteByte(0)
			}
			nacc -= 8
		}
	}
	pred := make([]int, nc)
	for by := 0; by < h/8; by++ {
		for bx := 0; bx < w/8; bx++ {
			for c := 0; c < nc; c++ {
				dc := 8 * (int(val(c, bx, by)) - 128)
				diff := dc - pred[c]
				pred[c] = dc
				ad, s := diff, uint32(0)
				if ad < 0 {
					ad = -ad
				}
				for ad > 0 {
					s++
					ad >>= 1
				}
				put(codes[s].code, codes[s].n)
				if s > 0 {
					bits := diff
					if diff < 0 {
						bits = diff + (1 << s) - 1
					}
					put(uint32(bits), s)
				}
				put(0, 1) // EOB
			}
		}
	}
	if nacc > 0 {
		put(1<<(8-nacc)-1, uint32(8-nacc))
	}
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}
