package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atelier/engine/tensor"
)

// probe is an expected colour (and alpha, -1 for "opaque: Alpha nil") at a
// pixel.
type probe struct {
	x, y    int
	rgb     [3]float64
	alpha   float64
	comment string
}

func checkProbes(t *testing.T, img *Image, probes []probe, tol float64) {
	t.Helper()
	for _, p := range probes {
		if got := px(img.RGB, p.x, p.y); !near(got, p.rgb[:], tol) {
			t.Errorf("pixel (%d,%d) %s = %v, want %v ±%g", p.x, p.y, p.comment, got, p.rgb, tol)
		}
		switch {
		case p.alpha < 0 && img.Alpha != nil:
			t.Errorf("Alpha is set, want nil for an opaque image")
		case p.alpha >= 0 && img.Alpha == nil:
			t.Errorf("Alpha is nil, want %g at (%d,%d)", p.alpha, p.x, p.y)
		case p.alpha >= 0:
			if got := px(img.Alpha, p.x, p.y); !near(got, []float64{p.alpha}, tol) {
				t.Errorf("alpha (%d,%d) = %v, want %g", p.x, p.y, got, p.alpha)
			}
		}
	}
}

// cmykRGB is the reference CMYK (0 = no ink) to RGB conversion written out
// independently of the package: R = 255 (1-C/255)(1-K/255).
func cmykRGB(c, m, y, k float64) [3]float64 {
	f := (255 - k) / 255
	return [3]float64{(255 - c) * f, (255 - m) * f, (255 - y) * f}
}

// TestDecodeTypes decodes one file per colour type and checks pixel values
// against numbers worked out by hand.
func TestDecodeTypes(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i)
	}
	gray16 := image.NewGray16(image.Rect(0, 0, 16, 16))
	gray16.SetGray16(3, 2, color.Gray16{0x1234})
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 16, 16))
	draw.Draw(rgba64, rgba64.Rect, image.Black, image.Point{}, draw.Src)
	rgba64.SetRGBA64(1, 1, color.RGBA64{0x1234, 0x5678, 0x9ABC, 0xFFFF})
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, 16, 16))
	nrgba64.SetNRGBA64(2, 3, color.NRGBA64{0x1234, 0x5678, 0x9ABC, 0x4000})
	nrgba64.SetNRGBA64(0, 0, color.NRGBA64{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF})
	nrgba := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < len(nrgba.Pix); i += 4 {
		copy(nrgba.Pix[i:], []uint8{10, 20, 30, 255})
	}
	nrgba.SetNRGBA(5, 6, color.NRGBA{200, 100, 50, 3}) // nearly transparent: colour must survive
	nrgba.SetNRGBA(7, 7, color.NRGBA{200, 100, 50, 0})
	pal := image.NewPaletted(image.Rect(0, 0, 16, 16), color.Palette{
		color.NRGBA{0, 0, 0, 0}, color.NRGBA{255, 128, 0, 255}, color.NRGBA{0, 64, 255, 128}})
	pal.SetColorIndex(1, 0, 1)
	pal.SetColorIndex(2, 0, 2)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, pal, nil); err != nil {
		t.Fatal(err)
	}
	opaquePal := image.NewPaletted(image.Rect(0, 0, 16, 16), color.Palette{color.RGBA{9, 8, 7, 255}, color.RGBA{250, 0, 5, 255}})
	opaquePal.SetColorIndex(4, 4, 1)
	dcCMYK := func(c, m, y, k uint8) func(int, int, int) uint8 {
		return func(ch, _, _ int) uint8 { return []uint8{c, m, y, k}[ch] }
	}
	fixture := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Independent expectation for the YCCK DC file. Its planes hold Y=76
	// Cb=85 Cr=255 and K=205. In YCCK (libjpeg, Adobe transform 2) the YCC
	// part decodes to C, M, Y directly (the encoder took R = 255 - C_stored
	// of Adobe-inverted input, so both inversions cancel) and K is stored
	// inverted: K = 255 - 205 = 50.
	yc, ym, yy := color.YCbCrToRGB(76, 85, 255)
	ycckWant := cmykRGB(float64(yc), float64(ym), float64(yy), 50)

	cases := []struct {
		name   string
		data   []byte
		format Format
		gray   bool
		notice string
		tol    float64
		probes []probe
	}{
		{"gray PNG", encodePNG(t, gray), PNG, true, "", 0, []probe{{3, 2, [3]float64{35, 35, 35}, -1, ""}}},
		{"gray JPEG", encodeJPEG(t, gray, 100), JPEG, true, "", 2, []probe{{3, 2, [3]float64{35, 35, 35}, -1, ""}}},
		{"16-bit gray PNG keeps precision", encodePNG(t, gray16), PNG, true, "", 1e-3,
			[]probe{{3, 2, [3]float64{0x1234 / 257.0, 0x1234 / 257.0, 0x1234 / 257.0}, -1, ""}}},
		{"16-bit RGB PNG keeps precision", encodePNG(t, rgba64), PNG, false, "", 1e-3,
			[]probe{{1, 1, [3]float64{0x1234 / 257.0, 0x5678 / 257.0, 0x9ABC / 257.0}, -1, ""}}},
		{"16-bit RGBA PNG", encodePNG(t, nrgba64), PNG, false, "", 1e-3, []probe{
			{2, 3, [3]float64{0x1234 / 257.0, 0x5678 / 257.0, 0x9ABC / 257.0}, 0x4000 / 257.0, "translucent"},
			{0, 0, [3]float64{255, 255, 255}, 255, "opaque"},
			{5, 5, [3]float64{0, 0, 0}, 0, "transparent"}}},
		{"NRGBA PNG with alpha", encodePNG(t, nrgba), PNG, false, "", 1e-4, []probe{
			{0, 0, [3]float64{10, 20, 30}, 255, "opaque"},
			{5, 6, [3]float64{200, 100, 50}, 3, "alpha 3 keeps its colour"},
			{7, 7, [3]float64{0, 0, 0}, 0, "transparent is black"}}},
		{"palette PNG with transparency", encodePNG(t, pal), PNG, false, "", 1e-4, []probe{
			{0, 0, [3]float64{0, 0, 0}, 0, "index 0"},
			{1, 0, [3]float64{255, 128, 0}, 255, "index 1"},
			{2, 0, [3]float64{0, 64, 255}, 128, "index 2"}}},
		{"opaque palette PNG", encodePNG(t, opaquePal), PNG, false, "", 1e-4, []probe{
			{0, 0, [3]float64{9, 8, 7}, -1, ""}, {4, 4, [3]float64{250, 0, 5}, -1, ""}}},
		{"GIF", gifBuf.Bytes(), GIF, false, "", 1e-4, []probe{
			{0, 0, [3]float64{0, 0, 0}, 0, "transparent"},
			{1, 0, [3]float64{255, 128, 0}, 255, "orange"}}},
		{"YCbCr JPEG", encodeJPEG(t, quadrants(32, 32, red, green, blue, white), 100), JPEG, false, "", 3, []probe{
			{8, 8, [3]float64{230, 20, 20}, -1, "red"}, {24, 24, [3]float64{250, 250, 250}, -1, "white"}}},
		{"Adobe CMYK JPEG", makeDCJPEG(16, 16, 4, 0, dcCMYK(255-200, 255-30, 255, 255-50)), JPEG, false, "CMYK", 1e-3,
			[]probe{{3, 3, cmykRGB(200, 30, 0, 50), -1, "stored inverted"}}},
		{"Adobe CMYK JPEG, full black", makeDCJPEG(16, 16, 4, 0, dcCMYK(255, 255, 255, 0)), JPEG, false, "CMYK", 1e-3,
			[]probe{{3, 3, [3]float64{0, 0, 0}, -1, "K=255"}}},
		{"4-component JPEG without Adobe marker", makeDCJPEG(16, 16, 4, -1, dcCMYK(255-200, 255-30, 255, 255-50)), JPEG, false, "CMYK", 1e-3,
			[]probe{{3, 3, cmykRGB(200, 30, 0, 50), -1, "read as Adobe-inverted, as ImageMagick does"}}},
		{"YCCK JPEG", makeDCJPEG(16, 16, 4, 2, dcCMYK(76, 85, 255, 205)), JPEG, false, "CMYK", 1.5,
			[]probe{{3, 3, ycckWant, -1, ""}}},
		{"ImageMagick YCCK fixture", fixture("ycck.jpg"), JPEG, false, "CMYK", 4, []probe{
			{8, 8, cmykRGB(200, 30, 0, 0), -1, "TL"}, {24, 8, cmykRGB(0, 180, 220, 0), -1, "TR"},
			{8, 24, cmykRGB(20, 40, 60, 100), -1, "BL"}, {24, 24, cmykRGB(10, 0, 0, 230), -1, "BR"}}},
		{"progressive JPEG fixture", fixture("progressive.jpg"), JPEG, false, "", 4, []probe{
			{8, 8, [3]float64{255, 0, 0}, -1, "red"}, {24, 8, [3]float64{0, 255, 0}, -1, "green"},
			{8, 24, [3]float64{0, 0, 255}, -1, "blue"}, {24, 24, [3]float64{255, 255, 255}, -1, "white"}}},
		{"gray+alpha PNG fixture", fixture("graya.png"), PNG, false, "", 1e-4, []probe{
			{8, 8, [3]float64{100, 100, 100}, 255, "left"}, {24, 8, [3]float64{200, 200, 200}, 64, "right"}}},
		{"16-bit interlaced PNG fixture", fixture("adam7_16.png"), PNG, false, "", 1e-3, []probe{
			{8, 8, [3]float64{0x1234 / 257.0, 0x5678 / 257.0, 0x9ABC / 257.0}, -1, "left"},
			{24, 8, [3]float64{0xFEDC / 257.0, 0x0102 / 257.0, 0x8001 / 257.0}, -1, "right"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := DecodeBytes(c.data, "x", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if img.Format != c.format || img.Gray != c.gray {
				t.Errorf("Format %v Gray %v, want %v %v", img.Format, img.Gray, c.format, c.gray)
			}
			if n, ch, _, _ := img.RGB.Dims(); n != 1 || ch != 3 {
				t.Errorf("RGB shape %v", img.RGB.Shape)
			}
			notices := strings.Join(img.Notices, " ")
			if (c.notice == "") != (notices == "") || !strings.Contains(notices, c.notice) {
				t.Errorf("notices %q, want one mentioning %q", img.Notices, c.notice)
			}
			checkProbes(t, img, c.probes, c.tol)
		})
	}
}

// reference computes the expected straight colour and alpha (0..255) of
// pixel (x, y) from the standard library's typed accessors and textbook
// formulas, independently of FromImage's index arithmetic.
func reference(img image.Image, x, y int) [4]float64 {
	unpre := func(r, g, b, a, max float64) [4]float64 {
		if a == 0 {
			return [4]float64{}
		}
		return [4]float64{r * 255 / a, g * 255 / a, b * 255 / a, a * 255 / max}
	}
	straight := func(r, g, b, a, max float64) [4]float64 {
		if a == 0 {
			return [4]float64{}
		}
		k := 255 / max
		return [4]float64{r * k, g * k, b * k, a * k}
	}
	switch m := img.(type) {
	case *image.RGBA:
		c := m.RGBAAt(x, y)
		return unpre(float64(c.R), float64(c.G), float64(c.B), float64(c.A), 255)
	case *image.RGBA64:
		c := m.RGBA64At(x, y)
		return unpre(float64(c.R), float64(c.G), float64(c.B), float64(c.A), 65535)
	case *image.NRGBA:
		c := m.NRGBAAt(x, y)
		return straight(float64(c.R), float64(c.G), float64(c.B), float64(c.A), 255)
	case *image.NRGBA64:
		c := m.NRGBA64At(x, y)
		return straight(float64(c.R), float64(c.G), float64(c.B), float64(c.A), 65535)
	case *image.Gray:
		v := float64(m.GrayAt(x, y).Y)
		return [4]float64{v, v, v, 255}
	case *image.Gray16:
		v := float64(m.Gray16At(x, y).Y) / 257
		return [4]float64{v, v, v, 255}
	case *image.CMYK:
		c := m.CMYKAt(x, y)
		rgb := cmykRGB(float64(c.C), float64(c.M), float64(c.Y), float64(c.K))
		return [4]float64{rgb[0], rgb[1], rgb[2], 255}
	case *image.Paletted:
		c := color.NRGBAModel.Convert(m.Palette[m.ColorIndexAt(x, y)]).(color.NRGBA)
		if nc, ok := m.Palette[m.ColorIndexAt(x, y)].(color.NRGBA); ok {
			c = nc
		}
		return straight(float64(c.R), float64(c.G), float64(c.B), float64(c.A), 255)
	case *image.YCbCr:
		c := m.YCbCrAt(x, y)
		yy, cb, cr := float64(c.Y), float64(c.Cb)-128, float64(c.Cr)-128
		cl := func(v float64) float64 { return math.Max(0, math.Min(255, v)) }
		return [4]float64{cl(yy + 1.402*cr), cl(yy - 0.344136*cb - 0.714136*cr), cl(yy + 1.772*cb), 255}
	}
	panic("no reference for this type")
}

// TestFastPaths converts every concrete type through its fast path and
// compares each pixel with reference. Sub-images with a non-zero origin
// check the stride and offset arithmetic. The generic path (the image
// hidden behind the interface) must agree within one level: it goes
// through premultiplied 16-bit colour, which loses a little at low alpha,
// and the standard library's YCbCr fixed point.
func TestFastPaths(t *testing.T) {
	const w, h = 21, 13
	src := smoothImage(w, h)
	fill := func(set func(x, y int, c color.NRGBA64)) {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := src.RGBAAt(x, y)
				a := uint16((x*3701 + y*9103) % 65536)
				if (x+y)%5 == 0 {
					a = 0xFFFF
				}
				set(x, y, color.NRGBA64{uint16(c.R)*257 + uint16(x), uint16(c.G)*257 + uint16(y), uint16(c.B) * 257, a})
			}
		}
	}
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	rgba64 := image.NewRGBA64(image.Rect(0, 0, w, h))
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	gray := image.NewGray(image.Rect(0, 0, w, h))
	gray16 := image.NewGray16(image.Rect(0, 0, w, h))
	cmyk := image.NewCMYK(image.Rect(0, 0, w, h))
	fill(func(x, y int, c color.NRGBA64) {
		rgba.Set(x, y, c)
		nrgba.Set(x, y, c)
		rgba64.Set(x, y, c)
		nrgba64.Set(x, y, c)
		gray.Set(x, y, c)
		gray16.Set(x, y, c)
		cmyk.Set(x, y, c)
	})
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.NRGBA{1, 2, 3, 4}, color.RGBA{50, 60, 70, 255}, color.Gray{9}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	images := map[string]image.Image{
		"RGBA": rgba, "NRGBA": nrgba, "RGBA64": rgba64, "NRGBA64": nrgba64,
		"Gray": gray, "Gray16": gray16, "CMYK": cmyk, "Paletted": pal,
	}
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		y := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
		for i := range y.Y {
			y.Y[i] = uint8(i * 7)
		}
		for i := range y.Cb {
			y.Cb[i], y.Cr[i] = uint8(i*13+40), uint8(255-i*5)
		}
		images[ratio.String()] = y
	}
	for name, full := range images {
		for _, sub := range []bool{false, true} {
			img, label := full, name
			if sub {
				img = full.(interface {
					SubImage(image.Rectangle) image.Image
				}).SubImage(image.Rect(3, 2, w, h-1))
				label += "/sub"
			}
			t.Run(label, func(t *testing.T) {
				rgb, alpha := FromImage(img)
				b := img.Bounds()
				if want := []int{1, 3, b.Dy(), b.Dx()}; !tensor.ShapeEqual(rgb.Shape, want) {
					t.Fatalf("shape %v, want %v", rgb.Shape, want)
				}
				if opaque := img.(interface{ Opaque() bool }).Opaque(); opaque != (alpha == nil) {
					t.Fatalf("alpha nil = %v for an image with Opaque() = %v", alpha == nil, opaque)
				}
				worst := 0.0
				for y := b.Min.Y; y < b.Max.Y; y++ {
					for x := b.Min.X; x < b.Max.X; x++ {
						want := reference(img, x, y)
						got := px(rgb, x-b.Min.X, y-b.Min.Y)
						if alpha != nil {
							got = append(got, px(alpha, x-b.Min.X, y-b.Min.Y)...)
						}
						for k := range got {
							worst = math.Max(worst, math.Abs(float64(got[k])-want[k]))
						}
					}
				}
				if worst > 1e-3 {
					t.Errorf("differs from the reference by up to %g", worst)
				}
				gRGB, gAlpha := FromImage(hideType{img})
				if d := tensor.MaxAbsDiff(rgb, gRGB); d > 1 {
					t.Errorf("generic path differs by %g", d)
				}
				if alpha != nil && gAlpha != nil {
					if d := tensor.MaxAbsDiff(alpha, gAlpha); d > 0.01 {
						t.Errorf("generic path alpha differs by %g", d)
					}
				}
			})
		}
	}
}

// TestGIFFirstFrame checks that an animated GIF yields its first frame,
// placed on the full logical screen, with a notice.
func TestGIFFirstFrame(t *testing.T) {
	p := color.Palette{color.RGBA{0, 0, 0, 0}, color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
	f1 := image.NewPaletted(image.Rect(4, 4, 20, 20), p)
	for i := range f1.Pix {
		f1.Pix[i] = 1
	}
	f2 := image.NewPaletted(image.Rect(0, 0, 32, 32), p)
	for i := range f2.Pix {
		f2.Pix[i] = 2
	}
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{f1, f2}, Delay: []int{10, 10},
		Config: image.Config{ColorModel: p, Width: 32, Height: 32}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := DecodeBytes(b.Bytes(), "anim.gif", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Size(); w != 32 || h != 32 {
		t.Fatalf("size %dx%d, want the 32x32 screen", w, h)
	}
	checkProbes(t, img, []probe{{10, 10, [3]float64{255, 0, 0}, 255, "first frame"}, {1, 1, [3]float64{}, 0, "outside the frame"}}, 0)
	if !strings.Contains(strings.Join(img.Notices, " "), "animated") {
		t.Errorf("notices %q, want one about animation", img.Notices)
	}
	if n := gifFrames(b.Bytes(), 10); n != 2 {
		t.Errorf("gifFrames = %d, want 2", n)
	}
	still := encodePNG(t, f2) // not a GIF: no frames
	if n := gifFrames(still, 10); n != 0 {
		t.Errorf("gifFrames(PNG) = %d, want 0", n)
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	png := encodePNG(t, smoothImage(40, 30))
	jpg := encodeJPEG(t, smoothImage(40, 30), 90)
	cases := []struct {
		name string
		path string
		kind error
		want string
	}{
		{"missing", filepath.Join(dir, "nope.png"), os.ErrNotExist, "imageio: cannot open nope.png: there is no such file"},
		{"folder", dir, ErrUnsupported, "is a folder"},
		{"empty", write("empty.png", nil), ErrCorrupt, "imageio: empty.png is empty"},
		{"text", write("tubingen.jpg", []byte("hello, this is not a picture")), ErrUnsupported, "imageio: tubingen.jpg is not a PNG, JPEG or GIF image"},
		{"webp", write("a.webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 ")), ErrUnsupported, "a.webp is a WebP image"},
		{"truncated PNG", write("cut.png", png[:len(png)/2]), ErrCorrupt, "imageio: cut.png is truncated"},
		{"truncated PNG header", write("cut2.png", png[:20]), ErrCorrupt, "imageio: cut2.png is truncated"},
		{"truncated JPEG", write("cut.jpg", jpg[:len(jpg)/2]), ErrCorrupt, "imageio: cut.jpg is truncated"},
		{"JPEG SOI only", write("soi.jpg", jpg[:2]), ErrCorrupt, "imageio: soi.jpg is truncated"},
		{"damaged PNG", write("bad.png", append(append(append([]byte(nil), png[:40]...), bytes.Repeat([]byte{0x55}, 200)...), png[len(png)-12:]...)),
			ErrCorrupt, "bad.png is a damaged PNG file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := Load(c.path, Options{})
			if err == nil {
				t.Fatalf("loaded %v, want an error", img.RGB)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %q does not wrap %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), dir) {
				t.Errorf("error %q, want it to contain %q and not the folder", err, c.want)
			}
		})
	}
}

// TestTruncatedEverywhere cuts files at every length and requires an
// error wrapping ErrCorrupt (never a panic, never success).
func TestTruncatedEverywhere(t *testing.T) {
	files := map[string][]byte{
		"png": encodePNG(t, smoothImage(20, 17)),
		"jpg": encodeJPEG(t, smoothImage(20, 17), 80),
	}
	var g bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 20, 17), color.Palette{color.Black, color.White})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 2)
	}
	if err := gif.Encode(&g, pal, nil); err != nil {
		t.Fatal(err)
	}
	files["gif"] = g.Bytes()
	for name, data := range files {
		for n := 1; n < len(data)-2; n++ {
			_, err := DecodeBytes(data[:n], name, Options{MinSide: 4})
			if err == nil {
				t.Errorf("%s cut to %d of %d bytes decoded without error", name, n, len(data))
				continue
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s cut to %d bytes: %v wraps neither ErrCorrupt nor ErrUnsupported", name, n, err)
			}
		}
	}
}
