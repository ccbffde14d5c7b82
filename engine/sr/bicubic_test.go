package sr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"atelier/engine/tensor"
)

func TestCubicKernel(t *testing.T) {
	// Keys (1981) with a = -0.5: known values.
	for _, c := range []struct{ x, want float64 }{
		{0, 1}, {0.5, 0.5625}, {-0.5, 0.5625}, {1, 0}, {1.5, -0.0625}, {-1.5, -0.0625}, {2, 0}, {2.5, 0}, {0.25, 0.8671875},
	} {
		if got := cubic(c.x); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("cubic(%g) = %g, want %g", c.x, got, c.want)
		}
	}
}

// TestResampleMatchesPillow compares Resample with Pillow's bicubic resize
// of a float image (testdata/pillow_bicubic.py), enlarging and shrinking
// (where Pillow widens the kernel) and at non-integer ratios.
func TestResampleMatchesPillow(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "pillow_bicubic.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		W, H  int
		Input []float32
		Cases []struct {
			W, H int
			Data []float64
		}
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	in := tensor.FromData(ref.Input, 1, 1, ref.H, ref.W)
	for _, c := range ref.Cases {
		t.Run(fmt.Sprintf("%dx%d", c.W, c.H), func(t *testing.T) {
			out, err := Resample(in, c.W, c.H)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Data) != len(c.Data) {
				t.Fatalf("%dx%d: %d values, want %d", c.W, c.H, len(out.Data), len(c.Data))
			}
			worst := 0.0
			for i, v := range out.Data {
				worst = max(worst, math.Abs(float64(v)-c.Data[i]))
			}
			// Pillow keeps float images in float32 (the JSON has 5
			// decimals): agreement is to float32 rounding.
			if worst > 1e-4 {
				t.Errorf("%dx%d: differs from Pillow by up to %g", c.W, c.H, worst)
			}
		})
	}
}

func TestResampleProperties(t *testing.T) {
	t.Run("constant stays constant", func(t *testing.T) {
		in := tensor.New(1, 2, 5, 7)
		for i := range in.Data {
			in.Data[i] = 42
		}
		for _, sz := range [][2]int{{14, 10}, {21, 15}, {3, 2}, {1, 1}, {56, 40}} {
			out, err := Resample(in, sz[0], sz[1])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out.Data {
				if math.Abs(float64(v)-42) > 1e-4 {
					t.Fatalf("%v: got %g", sz, v)
				}
			}
		}
	})
	t.Run("linear ramp is interpolated exactly inside", func(t *testing.T) {
		// The cubic kernel reproduces linear functions; away from the
		// borders an x2 enlargement of f(x) = 3x samples it at
		// (x+0.5)/2 - 0.5.
		const n = 12
		in := tensor.New(1, 1, 1, n)
		for x := range n {
			in.Data[x] = float32(3 * x)
		}
		out, err := Resample(in, 2*n, 1)
		if err != nil {
			t.Fatal(err)
		}
		for x := 4; x < 2*n-4; x++ {
			want := 3 * ((float64(x)+0.5)/2 - 0.5)
			if math.Abs(float64(out.Data[x])-want) > 1e-4 {
				t.Errorf("x=%d: got %g, want %g", x, out.Data[x], want)
			}
		}
	})
	t.Run("bad sizes", func(t *testing.T) {
		if _, err := Resample(tensor.New(1, 1, 3, 3), 0, 4); !errors.Is(err, ErrInput) {
			t.Errorf("got %v", err)
		}
		if _, err := Resample(tensor.New(3, 3), 4, 4); !errors.Is(err, ErrInput) {
			t.Errorf("got %v", err)
		}
	})
}

func TestBicubicUpscaler(t *testing.T) {
	in := tensor.New(1, 3, 6, 5)
	for i := range in.Data {
		in.Data[i] = float32((i * 97) % 256)
	}
	u, err := Open("bicubic", 3, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name() != "bicubic" || u.Scale() != 3 {
		t.Errorf("got %s x%d", u.Name(), u.Scale())
	}
	var calls [][2]int
	out, err := u.Upscale(context.Background(), in, func(d, n int) { calls = append(calls, [2]int{d, n}) })
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.ShapeEqual(out.Shape, []int{1, 3, 18, 15}) {
		t.Fatalf("shape %v", out.Shape)
	}
	for _, v := range out.Data {
		if v < 0 || v > 255 {
			t.Fatalf("value %g outside 0..255", v)
		}
	}
	if len(calls) != 2 || calls[0] != [2]int{0, 1} || calls[1] != [2]int{1, 1} {
		t.Errorf("progress calls %v", calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := u.Upscale(ctx, in, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	if _, err := u.Upscale(context.Background(), tensor.New(1, 4, 3, 3), nil); !errors.Is(err, ErrInput) {
		t.Errorf("4 channels: got %v", err)
	}
}

func TestDownscale(t *testing.T) {
	hr := tensor.New(1, 3, 11, 14)
	for i := range hr.Data {
		hr.Data[i] = float32((i*53)%256) + 0.3
	}
	lr, cropped, err := Downscale(hr, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.ShapeEqual(cropped.Shape, []int{1, 3, 9, 12}) || !tensor.ShapeEqual(lr.Shape, []int{1, 3, 3, 4}) {
		t.Fatalf("shapes %v %v", cropped.Shape, lr.Shape)
	}
	// The crop keeps the top-left corner.
	if cropped.Data[12+1] != hr.Data[14+1] || cropped.Data[9*12] != hr.Data[11*14] {
		t.Error("crop is not the top-left corner")
	}
	want, _ := Resample(cropped, 4, 3)
	for i, v := range lr.Data {
		if v != float32(math.Round(float64(v))) || v < 0 || v > 255 {
			t.Fatalf("lr value %g is not a whole level", v)
		}
		if math.Abs(float64(v)-float64(want.Data[i])) > 0.5+1e-4 && want.Data[i] >= 0 && want.Data[i] <= 255 {
			t.Fatalf("lr %g, resampled %g", v, want.Data[i])
		}
	}
	if _, _, err := Downscale(tensor.New(1, 3, 2, 8), 3); !errors.Is(err, ErrInput) {
		t.Errorf("image smaller than the scale: %v", err)
	}
}

func TestUpscaleImageAlpha(t *testing.T) {
	rgb := tensor.New(1, 3, 4, 6)
	alpha := tensor.New(1, 1, 4, 6)
	for y := range 4 {
		for x := range 6 {
			if x >= 3 {
				alpha.Data[y*6+x] = 255 // right half opaque, left transparent
			}
		}
	}
	u := &Bicubic{Factor: 2}
	out, a, err := UpscaleImage(context.Background(), u, rgb, alpha, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.ShapeEqual(out.Shape, []int{1, 3, 8, 12}) || a == nil || !tensor.ShapeEqual(a.Shape, []int{1, 1, 8, 12}) {
		t.Fatalf("shapes %v %v", out.Shape, a)
	}
	for y := range 8 {
		if a.Data[y*12] != 0 || a.Data[y*12+11] != 255 {
			t.Errorf("row %d: alpha %g .. %g, want 0 .. 255", y, a.Data[y*12], a.Data[y*12+11])
		}
		for x := range 12 {
			if v := a.Data[y*12+x]; v < 0 || v > 255 {
				t.Fatalf("alpha %g outside 0..255", v)
			}
		}
	}
	if _, a, _ := UpscaleImage(context.Background(), u, rgb, nil, nil); a != nil {
		t.Error("alpha made from nothing")
	}
	if _, _, err := UpscaleImage(context.Background(), u, rgb, tensor.New(1, 1, 3, 6), nil); !errors.Is(err, ErrInput) {
		t.Errorf("mismatched alpha: %v", err)
	}
}

func TestOutputSizeLimit(t *testing.T) {
	if err := CheckOutputSize(5000, 5000, 2); err != nil {
		t.Errorf("exactly 100 MP refused: %v", err)
	}
	err := CheckOutputSize(5001, 5000, 2)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	// Refused before anything is allocated: the tensor has no data.
	big := &tensor.Tensor{Shape: []int{1, 3, 5001, 5001}}
	for _, name := range []string{"bicubic"} {
		u, err := Open(name, 2, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Upscale(context.Background(), big, nil); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
