package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds returns small valid files of every kind the decoder handles.
func fuzzSeeds(t testing.TB) [][]byte {
	small := smoothImage(17, 9)
	pal := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Transparent, color.White})
	var g bytes.Buffer
	gif.Encode(&g, pal, nil)
	n16 := image.NewNRGBA64(image.Rect(0, 0, 5, 7))
	n16.SetNRGBA64(1, 1, color.NRGBA64{1, 2, 3, 4})
	seeds := [][]byte{
		encodePNG(t, small),
		encodePNG(t, n16),
		encodeJPEG(t, small, 75),
		spliceAPP1(encodeJPEG(t, small, 75), orientationEXIF(binary.LittleEndian, 6)),
		g.Bytes(),
		makeDCJPEG(16, 8, 4, 0, func(c, x, y int) uint8 { return uint8(c * 60) }),
		makeDCJPEG(8, 8, 4, -1, func(c, x, y int) uint8 { return uint8(c * 60) }),
	}
	for _, f := range []string{"ycck.jpg", "progressive.jpg", "graya.png", "adam7_16.png"} {
		if b, err := os.ReadFile(filepath.Join("testdata", f)); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzDecode checks that Decode never panics, that every error is one of
// the package's kinds and names the file, and that every success is a
// well-formed image within the limits.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, side uint8) {
		const maxPixels = 1 << 16
		opt := Options{MaxPixels: maxPixels, MinSide: -1, MaxSide: int(side % 64)}
		img, err := DecodeBytes(data, "fuzz.bin", opt)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTooSmall) {
				t.Fatalf("error of no known kind: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "imageio: fuzz.bin ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n, c, h, w := img.RGB.Dims()
		if n != 1 || c != 3 || h < 1 || w < 1 || h*w > maxPixels || len(img.RGB.Data) != 3*h*w {
			t.Fatalf("bad colour tensor %v", img.RGB.Shape)
		}
		if opt.MaxSide > 0 && max(w, h) > opt.MaxSide {
			t.Fatalf("%dx%d exceeds MaxSide %d", w, h, opt.MaxSide)
		}
		if img.Orientation < 1 || img.Orientation > 8 {
			t.Fatalf("orientation %d", img.Orientation)
		}
		check := func(vals []float32) {
			for _, v := range vals {
				if !(v >= 0 && v <= 255) || math.IsNaN(float64(v)) {
					t.Fatalf("value %v outside 0..255", v)
				}
			}
		}
		check(img.RGB.Data)
		if img.Alpha != nil {
			if len(img.Alpha.Data) != h*w {
				t.Fatalf("alpha %v for colour %v", img.Alpha.Shape, img.RGB.Shape)
			}
			check(img.Alpha.Data)
		}
	})
}

// FuzzMetadata checks that reading metadata never panics on any input.
func FuzzMetadata(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	var b bytes.Buffer
	Encode(&b, smoothImage(8, 8), PNG, SaveOptions{Metadata: testMeta})
	f.Add(b.Bytes())
	b.Reset()
	Encode(&b, smoothImage(8, 8), JPEG, SaveOptions{Metadata: testMeta})
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMetadata(bytes.NewReader(data), "fuzz.bin")
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("error of no known kind: %v", err)
		}
		for k := range m {
			if k == "" {
				t.Fatal("empty key")
			}
		}
	})
}
