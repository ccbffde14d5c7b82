package sr

import (
	"errors"
	"math"
	"math/rand"
	"testing"

	"atelier/engine/tensor"
)

func TestLuma(t *testing.T) {
	for _, c := range []struct {
		r, g, b float32
		want    float64
	}{
		{0, 0, 0, 16},
		{255, 255, 255, 16 + 65.481 + 128.553 + 24.966}, // 235
		{255, 0, 0, 16 + 65.481},
		{0, 255, 0, 16 + 128.553},
		{0, 0, 255, 16 + 24.966},
		{51, 102, 204, 16 + (65.481*51+128.553*102+24.966*204)/255},
	} {
		y, w, h, err := Luma(tensor.FromData([]float32{c.r, c.g, c.b}, 1, 3, 1, 1))
		if err != nil || h != 1 || w != 1 {
			t.Fatal(err)
		}
		if math.Abs(y[0]-c.want) > 1e-9 {
			t.Errorf("Y(%g,%g,%g) = %g, want %g", c.r, c.g, c.b, y[0], c.want)
		}
	}
	if _, _, _, err := Luma(tensor.New(1, 1, 2, 2)); !errors.Is(err, ErrInput) {
		t.Errorf("gray input: %v", err)
	}
}

func TestPSNR(t *testing.T) {
	a := make([]float64, 16)
	for i := range a {
		a[i] = float64(i * 10)
	}
	b := append([]float64(nil), a...)
	if p, err := PSNR(a, b, 4, 4, 0); err != nil || !math.IsInf(p, 1) {
		t.Errorf("identical: %g, %v", p, err)
	}
	b[0] += 10 // a corner pixel: MSE 100/16 without shaving
	p, err := PSNR(a, b, 4, 4, 0)
	if want := 10 * math.Log10(255*255*16/100.0); err != nil || math.Abs(p-want) > 1e-9 {
		t.Errorf("one pixel off by 10: %g, want %g (%v)", p, want, err)
	}
	if p, _ := PSNR(a, b, 4, 4, 1); !math.IsInf(p, 1) {
		t.Errorf("the difference is in the shaved border, got %g", p)
	}
	b[5] -= 4 // inside: 2x2 interior, MSE 16/4
	p, _ = PSNR(a, b, 4, 4, 1)
	if want := 10 * math.Log10(255*255/4.0); math.Abs(p-want) > 1e-9 {
		t.Errorf("shaved: %g, want %g", p, want)
	}
	if _, err := PSNR(a, b, 4, 4, 2); !errors.Is(err, ErrInput) {
		t.Errorf("nothing left after shaving: %v", err)
	}
}

// ssimNaive is an independent, direct SSIM: explicit 2-D Gaussian window,
// variances as weighted sums of squared deviations.
func ssimNaive(a, b []float64, w, h int) float64 {
	const k, sigma = 11, 1.5
	win := make([]float64, k*k)
	s := 0.0
	for i := range k {
		for j := range k {
			dy, dx := float64(i-5), float64(j-5)
			win[i*k+j] = math.Exp(-(dx*dx + dy*dy) / (2 * sigma * sigma))
			s += win[i*k+j]
		}
	}
	for i := range win {
		win[i] /= s
	}
	c1, c2 := math.Pow(0.01*255, 2), math.Pow(0.03*255, 2)
	total, n := 0.0, 0
	for y := 0; y+k <= h; y++ {
		for x := 0; x+k <= w; x++ {
			var m1, m2 float64
			for i := range k {
				for j := range k {
					m1 += win[i*k+j] * a[(y+i)*w+x+j]
					m2 += win[i*k+j] * b[(y+i)*w+x+j]
				}
			}
			var v1, v2, cv float64
			for i := range k {
				for j := range k {
					d1, d2 := a[(y+i)*w+x+j]-m1, b[(y+i)*w+x+j]-m2
					v1 += win[i*k+j] * d1 * d1
					v2 += win[i*k+j] * d2 * d2
					cv += win[i*k+j] * d1 * d2
				}
			}
			total += (2*m1*m2 + c1) * (2*cv + c2) / ((m1*m1 + m2*m2 + c1) * (v1 + v2 + c2))
			n++
		}
	}
	return total / float64(n)
}

func TestSSIM(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const w, h = 17, 15
	a := make([]float64, w*h)
	for i := range a {
		a[i] = 255 * rng.Float64()
	}
	t.Run("identical", func(t *testing.T) {
		s, err := SSIM(a, a, w, h, 0)
		if err != nil || math.Abs(s-1) > 1e-12 {
			t.Errorf("got %g, %v", s, err)
		}
	})
	t.Run("constant images, by hand", func(t *testing.T) {
		// Flat windows: no variance, so SSIM is the luminance term
		// (2 m1 m2 + C1) / (m1^2 + m2^2 + C1).
		const m1, m2 = 100.0, 120.0
		x, y := make([]float64, 11*11), make([]float64, 11*11)
		for i := range x {
			x[i], y[i] = m1, m2
		}
		c1 := 0.01 * 255 * 0.01 * 255
		want := (2*m1*m2 + c1) / (m1*m1 + m2*m2 + c1)
		s, err := SSIM(x, y, 11, 11, 0)
		if err != nil || math.Abs(s-want) > 1e-12 {
			t.Errorf("got %g, want %g (%v)", s, want, err)
		}
	})
	t.Run("matches a direct computation", func(t *testing.T) {
		b := make([]float64, w*h)
		for i := range b {
			b[i] = min(max(a[i]+40*rng.NormFloat64(), 0), 255)
		}
		got, err := SSIM(a, b, w, h, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := ssimNaive(a, b, w, h)
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("got %.12f, direct %.12f", got, want)
		}
		if got > 0.95 || got < 0 {
			t.Errorf("a noisy copy should score well below 1, got %g", got)
		}
		// Shaving 2 pixels is the same as measuring the inner planes.
		ia, ib := make([]float64, 0, (w-4)*(h-4)), make([]float64, 0, (w-4)*(h-4))
		for y := 2; y < h-2; y++ {
			ia = append(ia, a[y*w+2:y*w+w-2]...)
			ib = append(ib, b[y*w+2:y*w+w-2]...)
		}
		shaved, err := SSIM(a, b, w, h, 2)
		if err != nil {
			t.Fatal(err)
		}
		if want := ssimNaive(ia, ib, w-4, h-4); math.Abs(shaved-want) > 1e-9 {
			t.Errorf("shaved: %g, direct %g", shaved, want)
		}
	})
	t.Run("too small", func(t *testing.T) {
		if _, err := SSIM(a, a, w, h, 3); !errors.Is(err, ErrInput) {
			t.Errorf("11 x 9 after shaving: %v", err)
		}
	})
}

func TestCompare(t *testing.T) {
	hr := tensor.New(1, 3, 20, 20)
	for i := range hr.Data {
		hr.Data[i] = float32((i * 31) % 256)
	}
	q, err := Compare(hr, hr.Clone(), 2)
	if err != nil || !math.IsInf(q.PSNR, 1) || math.Abs(q.SSIM-1) > 1e-12 {
		t.Errorf("identical: %+v, %v", q, err)
	}
	other := hr.Clone()
	for i := range other.Data {
		other.Data[i] = 255 - other.Data[i]
	}
	q, err = Compare(hr, other, 2)
	if err != nil || q.PSNR > 15 || q.SSIM > 0 {
		t.Errorf("negative image: %+v, %v", q, err)
	}
	// Width and height are not swapped: a wide image differing only at
	// (x 15, y 2), inside the shaved border of 3 rows.
	wide := tensor.New(1, 3, 18, 30)
	for i := range wide.Data {
		wide.Data[i] = float32((i * 37) % 256)
	}
	moved := wide.Clone()
	moved.Data[2*30+15] += 50
	if q, err := Compare(wide, moved, 3); err != nil || !math.IsInf(q.PSNR, 1) || q.SSIM != 1 {
		t.Errorf("difference in the border counted: %+v, %v", q, err)
	}
	if _, err := Compare(hr, tensor.New(1, 3, 20, 19), 2); !errors.Is(err, ErrInput) {
		t.Errorf("sizes differ: %v", err)
	}
}
