package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"atelier/engine/tensor"
)

// sharedDir returns the read-only shared folder (ATELIER_SHARED, or
// <repo root>/../shared) or "" when it is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("ATELIER_SHARED"); d != "" {
		if _, err := os.Stat(d); err == nil {
			return d
		}
		return ""
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	d := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(d); err != nil {
		return ""
	}
	return d
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tiffIFD builds a TIFF structure (an EXIF body) with one IFD0 holding the
// given 12-byte entries, in byte order bo.
func tiffIFD(bo binary.AppendByteOrder, entries ...[]byte) []byte {
	var b []byte
	if bo.String() == "LittleEndian" {
		b = append(b, 'I', 'I')
	} else {
		b = append(b, 'M', 'M')
	}
	b = bo.AppendUint16(b, 42)
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = append(b, e...)
	}
	return bo.AppendUint32(b, 0) // no next IFD
}

// ifdEntry builds one IFD entry whose value fits in the 4-byte field.
func ifdEntry(bo binary.AppendByteOrder, tag, typ uint16, count uint32, value uint32) []byte {
	e := bo.AppendUint16(nil, tag)
	e = bo.AppendUint16(e, typ)
	e = bo.AppendUint32(e, count)
	switch typ {
	case 3:
		e = bo.AppendUint16(e, uint16(value))
		e = append(e, 0, 0)
	default:
		e = bo.AppendUint32(e, value)
	}
	return e
}

// orientationEXIF returns a TIFF body with an XResolution-like decoy
// entry followed by Orientation = o.
func orientationEXIF(bo binary.AppendByteOrder, o int) []byte {
	return tiffIFD(bo,
		ifdEntry(bo, 0x010F, 2, 4, 0x41424300), // Make, "ABC\0" inline
		ifdEntry(bo, 0x0112, 3, 1, uint32(o)))
}

// spliceAPP1 inserts an APP1 segment holding "Exif\0\0" + body right after
// the SOI of a JPEG, as cameras place it.
func spliceAPP1(jpg, body []byte) []byte {
	p := append(append([]byte(nil), exifHeader...), body...)
	seg := []byte{0xFF, 0xE1, byte((len(p) + 2) >> 8), byte(len(p) + 2)}
	out := append([]byte(nil), jpg[:2]...)
	out = append(out, seg...)
	out = append(out, p...)
	return append(out, jpg[2:]...)
}

// quadrants draws a w x h image whose four quadrants have the colours
// tl, tr, bl, br.
func quadrants(w, h int, tl, tr, bl, br color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := tl
			switch {
			case x >= w/2 && y < h/2:
				c = tr
			case x < w/2 && y >= h/2:
				c = bl
			case x >= w/2 && y >= h/2:
				c = br
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// px returns channel values of pixel (x, y) of a [1,C,H,W] tensor.
func px(t *tensor.Tensor, x, y int) []float32 {
	_, c, h, w := t.Dims()
	out := make([]float32, c)
	for k := range out {
		out[k] = t.Data[k*h*w+y*w+x]
	}
	return out
}

// near reports whether got is within tol of want, channel by channel.
func near(got []float32, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol || math.IsNaN(float64(got[i])) {
			return false
		}
	}
	return true
}

// meanAbsDiff is the mean absolute difference of two same-shaped tensors.
func meanAbsDiff(a, b *tensor.Tensor) float64 {
	s := 0.0
	for i := range a.Data {
		s += math.Abs(float64(a.Data[i]) - float64(b.Data[i]))
	}
	return s / float64(len(a.Data))
}

// hideType wraps an image so that only the image.Image interface is
// visible, forcing FromImage onto its generic path.
type hideType struct{ image.Image }

// smoothImage is a w x h photo-like test picture: smooth gradients with a
// little texture, so JPEG errors are representative.
func smoothImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			r := 128 + 100*math.Sin(6*fx+2*fy)
			g := 128 + 90*math.Cos(5*fy-3*fx)
			b := 128 + 80*math.Sin(9*fx*fy)
			img.SetRGBA(x, y, color.RGBA{uint8(r), uint8(g), uint8(b), 255})
		}
	}
	return img
}
