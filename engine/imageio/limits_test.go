package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"math"
	"runtime"
	"strings"
	"testing"

	"atelier/engine/tensor"
)

// pngWithSize rewrites the IHDR of a small Go-encoded PNG to declare
// w x h, fixing the chunk CRC, so the header lies about a tiny body.
func pngWithSize(t *testing.T, w, h uint32) []byte {
	d := encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 4)))
	d = append([]byte(nil), d...)
	binary.BigEndian.PutUint32(d[16:], w)
	binary.BigEndian.PutUint32(d[20:], h)
	binary.BigEndian.PutUint32(d[29:], crc32.ChecksumIEEE(d[12:29]))
	return d
}

// jpegWithSize rewrites the SOF0 of a small Go-encoded JPEG to declare
// w x h.
func jpegWithSize(t *testing.T, w, h uint16) []byte {
	d := append([]byte(nil), encodeJPEG(t, smoothImage(16, 16), 80)...)
	i := bytes.Index(d, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	binary.BigEndian.PutUint16(d[i+5:], h)
	binary.BigEndian.PutUint16(d[i+7:], w)
	return d
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestDecompressionBombRefusedBeforeAllocation(t *testing.T) {
	gifBomb := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\xff\xff\xff\xff\x00\x02\x02\x44\x01\x00;")
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"PNG 20000x20000", pngWithSize(t, 20000, 20000), "20000x20000 pixels (400 megapixels); the limit is 100 megapixels"},
		{"PNG 2^31-1 wide", pngWithSize(t, 1<<31-1, 1<<31-1), "too large for any computer"},
		{"JPEG 65000x65000", jpegWithSize(t, 65000, 65000), "65000x65000 pixels"},
		{"GIF 65535x65535", gifBomb, "65535x65535 pixels"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = DecodeBytes(c.data, "bomb", Options{}) })
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v, want ErrTooLarge", err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "imageio: bomb ") {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
			// Decoding the declared size would take gigabytes; refusing it
			// must cost no more than reading the header.
			if n > 256<<10 {
				t.Errorf("allocated %d bytes before refusing", n)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	png := func(w, h int) []byte { return encodePNG(t, smoothImage(w, h)) }
	cases := []struct {
		name  string
		data  []byte
		opt   Options
		kind  error // nil: success
		msg   string
		w, h  int
		scale bool
	}{
		{"at the pixel limit", png(100, 100), Options{MaxPixels: 10000}, nil, "", 100, 100, false},
		{"one pixel over", png(100, 100), Options{MaxPixels: 9999}, ErrTooLarge, "the limit is 9999 pixels", 0, 0, false},
		{"no pixel limit", png(100, 100), Options{MaxPixels: -1}, nil, "", 100, 100, false},
		{"too narrow", png(15, 40), Options{}, ErrTooSmall, "is only 15x40 pixels; Atelier needs at least 16 pixels on each side", 0, 0, false},
		{"minimum side met", png(16, 40), Options{}, nil, "", 16, 40, false},
		{"custom minimum", png(30, 40), Options{MinSide: 32}, ErrTooSmall, "at least 32 pixels", 0, 0, false},
		{"no minimum", png(3, 2), Options{MinSide: -1}, nil, "", 3, 2, false},
		{"scaled down", png(300, 200), Options{MaxSide: 100}, nil, "The image was 300x200; scaled down to 100x67 to fit in memory.", 100, 67, true},
		{"portrait scaled down", png(200, 300), Options{MaxSide: 150}, nil, "scaled down to 100x150", 100, 150, true},
		{"small enough already", png(100, 60), Options{MaxSide: 100}, nil, "", 100, 60, false},
		{"too narrow once scaled", png(2000, 20), Options{MaxSide: 1000}, ErrTooSmall, "too narrow to scale down", 0, 0, false},
		{"file too long", png(100, 100), Options{MaxFileBytes: 1000}, ErrTooLarge, "larger than", 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := DecodeBytes(c.data, "pic.png", c.opt)
			if c.name == "file too long" { // the limit applies to streams
				img, err = Decode(bytes.NewReader(c.data), "pic.png", c.opt)
			}
			if c.kind != nil {
				if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("error %v, want %v containing %q", err, c.kind, c.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w, h := img.Size(); w != c.w || h != c.h {
				t.Errorf("size %dx%d, want %dx%d", w, h, c.w, c.h)
			}
			notices := strings.Join(img.Notices, " ")
			if c.scale != (notices != "") || !strings.Contains(notices, c.msg) {
				t.Errorf("notices %q, want %q", img.Notices, c.msg)
			}
		})
	}
}

// TestScaleDownQuality compares decode-time scaling (nfnt on the decoded
// image) with decoding at full size and resizing the tensor.
func TestScaleDownQuality(t *testing.T) {
	data := encodePNG(t, smoothImage(400, 300))
	small, err := DecodeBytes(data, "", Options{MaxSide: 200})
	if err != nil {
		t.Fatal(err)
	}
	full, err := DecodeBytes(data, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Resize(full.RGB, 200, 150)
	if err != nil {
		t.Fatal(err)
	}
	if d := meanAbsDiff(small.RGB, want); d > 0.5 {
		t.Errorf("scaled decode differs from resizing the full tensor by %.3f on average", d)
	}
}

// TestScaleDownAlpha checks that scaling an image with alpha filters
// premultiplied colour. Colour and alpha vary smoothly (so Lanczos ringing
// and its clipping play no part) and independently; filtering straight
// colour would weigh nearly transparent pixels as much as opaque ones. The
// reference premultiplies by hand, resizes the tensors with Resize and
// divides. Colour hidden under alpha 0 (the bottom rows) must not show.
func TestScaleDownAlpha(t *testing.T) {
	const w, h = 96, 64
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x), float64(y)
			c := color.NRGBA{
				uint8(128 + 100*math.Sin(2*math.Pi*fx/16)),
				uint8(128 + 100*math.Cos(2*math.Pi*(fx+fy)/20)),
				uint8(60 + 40*math.Sin(2*math.Pi*fy/24)),
				uint8(128 + 120*math.Cos(2*math.Pi*fx/13)),
			}
			if y >= h-16 {
				c = color.NRGBA{0, 0, 255, 0} // invisible blue
			}
			img.SetNRGBA(x, y, c)
		}
	}
	data := encodePNG(t, img)
	got, err := DecodeBytes(data, "", Options{MaxSide: w / 2})
	if err != nil {
		t.Fatal(err)
	}
	full, err := DecodeBytes(data, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Alpha == nil || full.Alpha == nil {
		t.Fatal("alpha lost")
	}
	pre := tensor.New(1, 4, h, w)
	n := h * w
	for i := 0; i < n; i++ {
		a := full.Alpha.Data[i]
		for c := 0; c < 3; c++ {
			pre.Data[c*n+i] = full.RGB.Data[c*n+i] * a / 255
		}
		pre.Data[3*n+i] = a
	}
	ref, err := Resize(pre, w/2, h/2)
	if err != nil {
		t.Fatal(err)
	}
	m := w / 2 * h / 2
	worst := 0.0
	for y := 4; y < h/2-12; y++ { // away from the borders and the hidden band
		for x := 4; x < w/2-4; x++ {
			i := y*w/2 + x
			a := ref.Data[3*m+i]
			worst = math.Max(worst, math.Abs(float64(got.Alpha.Data[i]-a)))
			if a < 16 {
				continue
			}
			for c := 0; c < 3; c++ {
				want := min(255, ref.Data[c*m+i]/a*255)
				worst = math.Max(worst, math.Abs(float64(got.RGB.Data[c*m+i]-want)))
			}
		}
	}
	if worst > 1.5 {
		t.Errorf("differs from premultiplied filtering by up to %.2f levels", worst)
	}
	for x := 0; x < w/2; x++ {
		for y := 0; y < h/2; y++ {
			if a, b := px(got.Alpha, x, y)[0], px(got.RGB, x, y)[2]; y >= h/2-6 && a > 8 && b > 110 {
				t.Fatalf("(%d,%d) alpha %.1f blue %.1f: hidden colour leaked", x, y, a, b)
			}
		}
	}
}

// TestScaleDownOriented scales a rotated photo: the limit applies to the
// displayed size and the result is upright.
func TestScaleDownOriented(t *testing.T) {
	stored := quadrants(200, 300, green, white, red, blue) // orientation 6: displayed 300x200
	jpg := spliceAPP1(encodeJPEG(t, stored, 95), orientationEXIF(binary.BigEndian, 6))
	img, err := DecodeBytes(jpg, "photo.jpg", Options{MaxSide: 150})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Size(); w != 150 || h != 100 || img.OriginalWidth != 300 || img.OriginalHeight != 200 {
		t.Fatalf("size %dx%d original %dx%d, want 150x100 from 300x200", w, h, img.OriginalWidth, img.OriginalHeight)
	}
	checkProbes(t, img, []probe{
		{30, 20, [3]float64{230, 20, 20}, -1, "red top-left"},
		{120, 80, [3]float64{250, 250, 250}, -1, "white bottom-right"}}, 8)
}
