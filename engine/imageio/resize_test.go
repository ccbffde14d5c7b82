package imageio

import (
	"image"
	"math"
	"testing"

	"github.com/nfnt/resize"

	"atelier/engine/tensor"
)

func TestFitLongSide(t *testing.T) {
	cases := []struct{ w, h, side, ww, wh int }{
		{1024, 768, 512, 512, 384},
		{768, 1024, 512, 384, 512},
		{300, 200, 100, 100, 67},
		{100, 100, 37, 37, 37},
		{5000, 3, 100, 100, 1}, // never zero
		{64, 48, 128, 128, 96}, // scaling up
		{0, 10, 10, 0, 0},
		{10, 10, 0, 0, 0},
	}
	for _, c := range cases {
		if w, h := FitLongSide(c.w, c.h, c.side); w != c.ww || h != c.wh {
			t.Errorf("FitLongSide(%d,%d,%d) = %d,%d; want %d,%d", c.w, c.h, c.side, w, h, c.ww, c.wh)
		}
	}
}

// fillPlane sets channel p of t from f(x, y).
func fillPlane(t *tensor.Tensor, p int, f func(x, y int) float64) {
	_, _, h, w := t.Dims()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t.Data[p*h*w+y*w+x] = float32(f(x, y))
		}
	}
}

func TestResize(t *testing.T) {
	t.Run("constant stays exact", func(t *testing.T) {
		in := tensor.New(1, 3, 20, 30)
		for i := range in.Data {
			in.Data[i] = 123.25
		}
		out, err := Resize(in, 13, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Data {
			if v != 123.25 {
				t.Fatalf("value %v, want 123.25", v)
			}
		}
	})
	t.Run("same size copies", func(t *testing.T) {
		in := tensor.New(1, 1, 4, 4)
		in.Data[5] = 9
		out, err := Resize(in, 4, 4)
		if err != nil || &out.Data[0] == &in.Data[0] || tensor.MaxAbsDiff(in, out) != 0 {
			t.Errorf("same-size resize: err %v, shares storage %v", err, &out.Data[0] == &in.Data[0])
		}
	})
	t.Run("linear ramp", func(t *testing.T) {
		// A symmetric filter reproduces a linear function exactly away from
		// the borders; the only error is the 16-bit quantisation.
		in := tensor.New(1, 1, 40, 120)
		fillPlane(in, 0, func(x, y int) float64 { return float64(x)*2 + float64(y)*0.5 })
		out, err := Resize(in, 60, 20)
		if err != nil {
			t.Fatal(err)
		}
		for y := 4; y < 16; y++ {
			for x := 4; x < 56; x++ {
				sx, sy := (float64(x)+0.5)*2-0.5, (float64(y)+0.5)*2-0.5 // output centre in input pixels
				want := sx*2 + sy*0.5
				if got := float64(out.Data[y*60+x]); math.Abs(got-want) > 0.05 {
					t.Fatalf("(%d,%d) = %.3f, want %.3f", x, y, got, want)
				}
			}
		}
	})
	t.Run("matches nfnt on a 16-bit image", func(t *testing.T) {
		img := image.NewRGBA64(image.Rect(0, 0, 50, 40))
		for i := 0; i < len(img.Pix); i += 2 {
			v := uint16(32768 + 30000*math.Sin(float64(i)/97))
			img.Pix[i], img.Pix[i+1] = uint8(v>>8), uint8(v)
		}
		for i := 6; i < len(img.Pix); i += 8 { // opaque
			img.Pix[i], img.Pix[i+1] = 0xFF, 0xFF
		}
		want, _ := FromImage(resize.Resize(31, 17, img, resize.Lanczos3))
		in, _ := FromImage(img)
		got, err := Resize(in, 31, 17)
		if err != nil {
			t.Fatal(err)
		}
		if d := tensor.MaxAbsDiff(got, want); d > 0.25 {
			t.Errorf("differs from nfnt by %g", d)
		}
	})
	t.Run("stays within the input range", func(t *testing.T) {
		in := tensor.New(1, 1, 32, 32)
		fillPlane(in, 0, func(x, y int) float64 { return float64((x/4+y/4)%2) * 255 }) // hard edges ring
		for _, size := range [][2]int{{16, 16}, {80, 80}, {45, 13}} {
			out, err := Resize(in, size[0], size[1])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out.Data {
				if v < 0 || v > 255 {
					t.Fatalf("%v: value %v outside 0..255", size, v)
				}
			}
		}
	})
	t.Run("channels and batch are independent", func(t *testing.T) {
		// Channels travel four to a filter pass; each must come out as if
		// resized alone, including the odd fifth and the second image.
		in := tensor.New(2, 5, 24, 36)
		for p := 0; p < 10; p++ {
			k := float64(p)
			fillPlane(in, p, func(x, y int) float64 {
				return (k - 4) * 100 * math.Sin(float64(x)/(3+k)+float64(y)/(2+k))
			})
		}
		out, err := Resize(in, 17, 29)
		if err != nil {
			t.Fatal(err)
		}
		for p := 0; p < 10; p++ {
			one := tensor.FromData(append([]float32(nil), in.Data[p*24*36:(p+1)*24*36]...), 1, 1, 24, 36)
			want, err := Resize(one, 17, 29)
			if err != nil {
				t.Fatal(err)
			}
			got := tensor.FromData(out.Data[p*17*29:(p+1)*17*29], 1, 1, 29, 17)
			if d := tensor.MaxAbsDiff(got, want); d != 0 {
				t.Errorf("plane %d differs from resizing it alone by %g", p, d)
			}
		}
	})
	t.Run("down then up", func(t *testing.T) {
		in, _ := FromImage(smoothImage(96, 64))
		small, err := ResizeLong(in, 48)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, h, w := small.Dims(); w != 48 || h != 32 {
			t.Fatalf("ResizeLong gave %dx%d, want 48x32", w, h)
		}
		back, err := Resize(small, 96, 64)
		if err != nil {
			t.Fatal(err)
		}
		if d := meanAbsDiff(in, back); d > 2 {
			t.Errorf("down and up again drifts by %.2f levels on average", d)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		nan := tensor.New(1, 1, 4, 4)
		nan.Data[3] = float32(math.NaN())
		inf := tensor.New(1, 1, 4, 4)
		inf.Data[3] = float32(math.Inf(-1))
		for name, f := range map[string]func() error{
			"NaN":        func() error { _, err := Resize(nan, 2, 2); return err },
			"Inf":        func() error { _, err := Resize(inf, 2, 2); return err },
			"zero width": func() error { _, err := Resize(tensor.New(1, 1, 4, 4), 0, 2); return err },
			"3-D":        func() error { _, err := Resize(tensor.New(1, 4, 4), 2, 2); return err },
			"nil":        func() error { _, err := ResizeLong(nil, 2); return err },
			"side 0":     func() error { _, err := ResizeLong(tensor.New(1, 1, 4, 4), 0); return err },
		} {
			if f() == nil {
				t.Errorf("%s accepted", name)
			}
		}
	})
}
