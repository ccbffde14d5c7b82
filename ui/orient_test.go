package ui

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// exifJPEG encodes img as a JPEG carrying EXIF orientation o.
func exifJPEG(t *testing.T, img image.Image, o uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	// TIFF header (little endian), IFD0 at 8 with one entry: 0x0112 SHORT 1 = o.
	tiff := []byte("II*\x00\x08\x00\x00\x00\x01\x00")
	entry := make([]byte, 12)
	binary.LittleEndian.PutUint16(entry[0:], 0x0112)
	binary.LittleEndian.PutUint16(entry[2:], 3)
	binary.LittleEndian.PutUint32(entry[4:], 1)
	binary.LittleEndian.PutUint16(entry[8:], o)
	tiff = append(append(tiff, entry...), 0, 0, 0, 0)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	data := buf.Bytes()
	out := append(append(append([]byte(nil), data[:2]...), seg...), payload...)
	return append(out, data[2:]...)
}

// TestPreviewEXIFOrientation: a JPEG stored sideways with orientation 6
// (rotate 90 CW) is shown upright, its caption size swapped, as the engine
// reads it.
func TestPreviewEXIFOrientation(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 32, 16)) // left half red, right half blue
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			c := color.RGBA{200, 0, 0, 255}
			if x >= 16 {
				c = color.RGBA{0, 0, 200, 255}
			}
			img.Set(x, y, c)
		}
	}
	path := filepath.Join(t.TempDir(), "sideways.jpg")
	if err := os.WriteFile(path, exifJPEG(t, img, 6), 0o644); err != nil {
		t.Fatal(err)
	}
	pv, err := loadPreview(path)
	if err != nil {
		t.Fatal(err)
	}
	if pv.width != 16 || pv.height != 32 || pv.img.Bounds().Dx() != 16 || pv.img.Bounds().Dy() != 32 {
		t.Fatalf("caption %dx%d, image %v; want 16x32 upright", pv.width, pv.height, pv.img.Bounds())
	}
	top, bottom := pv.img.RGBAAt(8, 4), pv.img.RGBAAt(8, 27)
	if top.R < 150 || top.B > 50 || bottom.B < 150 || bottom.R > 50 {
		t.Errorf("rotated 90 CW the red half should be on top: top %v, bottom %v", top, bottom)
	}
	full, err := decodeFull(path)
	if err != nil {
		t.Fatal(err)
	}
	if full.Bounds().Dx() != 16 || full.Bounds().Dy() != 32 {
		t.Errorf("the upscale tab's full decode is %v, want 16x32 upright", full.Bounds())
	}
}

// TestOrientRGBA checks every orientation on a 3x2 picture whose pixels
// are numbered, against where EXIF says each stored pixel belongs.
func TestOrientRGBA(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := 0; i < 6; i++ {
		src.Pix[4*i] = byte(i + 1)
	}
	// want[o] lists the upright picture's pixels row by row (R values).
	want := map[int][]byte{
		1: {1, 2, 3, 4, 5, 6},
		2: {3, 2, 1, 6, 5, 4},
		3: {6, 5, 4, 3, 2, 1},
		4: {4, 5, 6, 1, 2, 3},
		5: {1, 4, 2, 5, 3, 6},
		6: {4, 1, 5, 2, 6, 3},
		7: {6, 3, 5, 2, 4, 1},
		8: {3, 6, 2, 5, 1, 4},
	}
	for o := 1; o <= 8; o++ {
		got := orientRGBA(src, o)
		var r []byte
		for i := 0; i < len(got.Pix); i += 4 {
			r = append(r, got.Pix[i])
		}
		if !bytes.Equal(r, want[o]) {
			t.Errorf("orientation %d: %v, want %v", o, r, want[o])
		}
	}
}
