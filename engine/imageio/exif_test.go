package imageio

import (
	"encoding/binary"
	"image"
	"image/color"
	"testing"
)

var (
	red   = color.NRGBA{230, 20, 20, 255}
	green = color.NRGBA{20, 200, 40, 255}
	blue  = color.NRGBA{30, 40, 220, 255}
	white = color.NRGBA{250, 250, 250, 255}
)

// TestOrientation writes, for each EXIF orientation, the stored picture a
// camera would produce for a 48x32 scene whose quadrants are red, green
// (top) and blue, white (bottom), splices the tag in, and checks that Decode
// shows the scene the right way up. The stored corner colours come from the
// EXIF specification's "row 0 / column 0" wording, independently of the
// implementation's index maps.
func TestOrientation(t *testing.T) {
	type corners struct{ tl, tr, bl, br color.NRGBA }
	cases := []struct {
		o      int
		w, h   int // stored size
		stored corners
	}{
		{1, 48, 32, corners{red, green, blue, white}},
		{2, 48, 32, corners{green, red, white, blue}}, // mirrored left-right
		{3, 48, 32, corners{white, blue, green, red}}, // upside down
		{4, 48, 32, corners{blue, white, red, green}}, // mirrored top-bottom
		{5, 32, 48, corners{red, blue, green, white}}, // row 0 = left, column 0 = top
		{6, 32, 48, corners{green, white, red, blue}}, // row 0 = right, column 0 = top
		{7, 32, 48, corners{white, green, blue, red}}, // row 0 = right, column 0 = bottom
		{8, 32, 48, corners{blue, red, white, green}}, // row 0 = left, column 0 = bottom
	}
	for _, bo := range []binary.AppendByteOrder{binary.BigEndian, binary.LittleEndian} {
		for _, c := range cases {
			t.Run(bo.String()+"/"+string(rune('0'+c.o)), func(t *testing.T) {
				s := c.stored
				jpg := encodeJPEG(t, quadrants(c.w, c.h, s.tl, s.tr, s.bl, s.br), 95)
				img, err := DecodeBytes(spliceAPP1(jpg, orientationEXIF(bo, c.o)), "photo.jpg", Options{})
				if err != nil {
					t.Fatal(err)
				}
				if w, h := img.Size(); w != 48 || h != 32 || img.OriginalWidth != 48 || img.OriginalHeight != 32 {
					t.Fatalf("size %dx%d (original %dx%d), want 48x32", w, h, img.OriginalWidth, img.OriginalHeight)
				}
				if img.Orientation != c.o {
					t.Errorf("Orientation = %d, want %d", img.Orientation, c.o)
				}
				for _, p := range []struct {
					x, y int
					want color.NRGBA
				}{{12, 8, red}, {36, 8, green}, {12, 24, blue}, {36, 24, white}} {
					want := []float64{float64(p.want.R), float64(p.want.G), float64(p.want.B)}
					if got := px(img.RGB, p.x, p.y); !near(got, want, 8) {
						t.Errorf("pixel (%d,%d) = %v, want about %v", p.x, p.y, got, want)
					}
				}
			})
		}
	}
}

func TestIgnoreOrientation(t *testing.T) {
	jpg := spliceAPP1(encodeJPEG(t, quadrants(32, 48, green, white, red, blue), 95), orientationEXIF(binary.BigEndian, 6))
	img, err := DecodeBytes(jpg, "photo.jpg", Options{IgnoreOrientation: true})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Size(); w != 32 || h != 48 || img.Orientation != 1 {
		t.Fatalf("got %dx%d orientation %d, want the stored 32x48 and 1", w, h, img.Orientation)
	}
}

// TestOrientationMalformed feeds broken EXIF bodies: each must be ignored
// (orientation 1) without failing the decode.
func TestOrientationMalformed(t *testing.T) {
	be, le := binary.BigEndian, binary.LittleEndian
	good := orientationEXIF(be, 6)
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"valid big-endian", good, 6},
		{"valid little-endian", orientationEXIF(le, 8), 8},
		{"LONG instead of SHORT", tiffIFD(be, ifdEntry(be, 0x0112, 4, 1, 3)), 3},
		{"empty", nil, 1},
		{"short header", good[:6], 1},
		{"bad byte order", append([]byte("XX"), good[2:]...), 1},
		{"bad magic", append([]byte("MM\x00\x2B"), good[4:]...), 1},
		{"IFD offset past end", append(append([]byte(nil), good[:4]...), 0xFF, 0xFF, 0xFF, 0xF0), 1},
		{"IFD offset into header", append(append([]byte(nil), good[:4]...), 0, 0, 0, 2), 1},
		{"entry count past end", append(append([]byte(nil), good[:8]...), 0xFF, 0xFF), 1},
		{"entries cut short", good[:8+2+12+6], 1},
		{"orientation 0", tiffIFD(be, ifdEntry(be, 0x0112, 3, 1, 0)), 1},
		{"orientation 9", tiffIFD(be, ifdEntry(be, 0x0112, 3, 1, 9)), 1},
		{"orientation 65535", tiffIFD(be, ifdEntry(be, 0x0112, 3, 1, 0xFFFF)), 1},
		{"ASCII type", tiffIFD(be, ifdEntry(be, 0x0112, 2, 1, 6)), 1},
		{"zero count", tiffIFD(be, ifdEntry(be, 0x0112, 3, 0, 6)), 1},
		{"no orientation tag", tiffIFD(be, ifdEntry(be, 0x010F, 2, 4, 0)), 1},
	}
	base := encodeJPEG(t, smoothImage(32, 24), 90)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tiffOrientation(c.body); got != c.want {
				t.Errorf("tiffOrientation = %d, want %d", got, c.want)
			}
			img, err := DecodeBytes(spliceAPP1(base, c.body), "photo.jpg", Options{})
			if err != nil {
				t.Fatalf("decode failed: %v", err)
			}
			if img.Orientation != c.want {
				t.Errorf("Orientation = %d, want %d", img.Orientation, c.want)
			}
		})
	}
	t.Run("APP1 length past end of file", func(t *testing.T) {
		data := []byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M'}
		if got := jpegOrientation(data); got != 1 {
			t.Errorf("jpegOrientation = %d, want 1", got)
		}
	})
	t.Run("second EXIF segment ignored", func(t *testing.T) {
		data := spliceAPP1(spliceAPP1(base, orientationEXIF(be, 3)), orientationEXIF(be, 6))
		if got := jpegOrientation(data); got != 6 {
			t.Errorf("jpegOrientation = %d, want 6 (the first segment's)", got)
		}
	})
	t.Run("fill bytes before marker", func(t *testing.T) {
		d := spliceAPP1(base, good)
		d = append(append(append([]byte(nil), d[:2]...), 0xFF, 0xFF), d[2:]...)
		if got := jpegOrientation(d); got != 6 {
			t.Errorf("jpegOrientation = %d, want 6", got)
		}
	})
}

// TestFromImageOriented compares the scatter used while converting
// (stored pixel -> upright position) with the gather mapping written the
// other way round (upright pixel -> stored position), for colour and alpha.
func TestFromImageOriented(t *testing.T) {
	const w, h = 7, 5
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + 1)
	}
	src, srcA := FromImage(img)
	for o := 1; o <= 8; o++ {
		rgb, alpha := fromImageOriented(img, o)
		ow, oh := orientedSize(w, h, o)
		if _, _, gh, gw := rgb.Dims(); gw != ow || gh != oh || alpha == nil {
			t.Fatalf("o=%d: %v, alpha %v", o, rgb.Shape, alpha != nil)
		}
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				var sx, sy int
				switch o {
				case 1:
					sx, sy = ox, oy
				case 2:
					sx, sy = w-1-ox, oy
				case 3:
					sx, sy = w-1-ox, h-1-oy
				case 4:
					sx, sy = ox, h-1-oy
				case 5:
					sx, sy = oy, ox
				case 6:
					sx, sy = oy, h-1-ox
				case 7:
					sx, sy = w-1-oy, h-1-ox
				case 8:
					sx, sy = w-1-oy, ox
				}
				want := append(px(src, sx, sy), px(srcA, sx, sy)...)
				got := append(px(rgb, ox, oy), px(alpha, ox, oy)...)
				for k := range want {
					if got[k] != want[k] {
						t.Fatalf("o=%d upright (%d,%d) = %v, want stored (%d,%d) = %v", o, ox, oy, got, sx, sy, want)
					}
				}
			}
		}
	}
}
