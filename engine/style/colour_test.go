package style

import (
	"math"
	"math/rand"
	"testing"

	"atelier/engine/tensor"
)

// yiq returns the mean absolute difference of the I and Q channels (YIQ,
// NTSC) between two RGB images, and of Y.
func yiqDiff(a, b *tensor.Tensor) (chroma, luma float64) {
	hw := a.Shape[2] * a.Shape[3]
	for i := range hw {
		var d [3]float64
		for c := range 3 {
			d[c] = float64(a.Data[c*hw+i]) - float64(b.Data[c*hw+i])
		}
		y := 0.299*d[0] + 0.587*d[1] + 0.114*d[2]
		iq := 0.595716*d[0] - 0.274453*d[1] - 0.321263*d[2]
		q := 0.211456*d[0] - 0.522591*d[1] + 0.311135*d[2]
		chroma += math.Abs(iq) + math.Abs(q)
		luma += math.Abs(y)
	}
	return chroma / float64(2*hw), luma / float64(hw)
}

// yOf returns the BT.601 luma of every pixel.
func yOf(a *tensor.Tensor) []float64 {
	hw := a.Shape[2] * a.Shape[3]
	y := make([]float64, hw)
	for i := range y {
		y[i] = 0.299*float64(a.Data[i]) + 0.587*float64(a.Data[hw+i]) + 0.114*float64(a.Data[2*hw+i])
	}
	return y
}

func TestPreserveColour(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	// Mid-range values: no clamping, so the identity must hold to rounding.
	content := randTensor(rng, 60, 190, 1, 3, 9, 13)
	result := randTensor(rng, 60, 190, 1, 3, 9, 13)
	out := PreserveColour(nil, result, content)
	chroma, _ := yiqDiff(out, content)
	if chroma > 1e-4 {
		t.Errorf("chroma moved by %.3g from the content's", chroma)
	}
	yo, yr := yOf(out), yOf(result)
	for i := range yo {
		if math.Abs(yo[i]-yr[i]) > 1e-3 {
			t.Fatalf("pixel %d: luma %.4f, want the result's %.4f", i, yo[i], yr[i])
		}
	}
	// Without the recombination the chroma differs a lot: the check above
	// could fail.
	if c, _ := yiqDiff(result, content); c < 5 {
		t.Fatalf("test images too alike in chroma (%.3g)", c)
	}
	// Clamped to 0..255 on extreme inputs.
	bright := randTensor(rng, 250, 255, 1, 3, 4, 4)
	dark := randTensor(rng, 0, 5, 1, 3, 4, 4)
	for _, v := range PreserveColour(nil, bright, dark).Data {
		if v < 0 || v > 255 {
			t.Fatalf("value %v outside 0..255", v)
		}
	}
}

// covOf returns the colour mean and covariance through the test's own
// float64 loop.
func covOf(img *tensor.Tensor) ([3]float64, [3][3]float64) {
	st := statsOf(img)
	return st.mean, st.cov
}

func TestMatchColour(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	// A bluish, low-contrast "style" with correlated channels and a
	// reddish, high-contrast "content".
	style := tensor.New(1, 3, 24, 24)
	content := tensor.New(1, 3, 20, 30)
	hw := 24 * 24
	for i := range hw {
		base := rng.NormFloat64()
		style.Data[i] = float32(90 + 10*base)
		style.Data[hw+i] = float32(110 + 8*base + 5*rng.NormFloat64())
		style.Data[2*hw+i] = float32(160 + 6*rng.NormFloat64())
	}
	chw := 20 * 30
	for i := range chw {
		a, b := rng.NormFloat64(), rng.NormFloat64()
		content.Data[i] = float32(150 + 25*a)
		content.Data[chw+i] = float32(100 + 15*b - 10*a)
		content.Data[2*chw+i] = float32(80 + 12*b)
	}
	wantMean, wantCov := covOf(content)
	outs := map[MatchMethod]*tensor.Tensor{}
	for _, m := range []MatchMethod{MatchPCA, MatchCholesky} {
		out := MatchColour(style, content, m)
		outs[m] = out
		mean, cov := covOf(out)
		for a := range 3 {
			if math.Abs(mean[a]-wantMean[a]) > 0.05 {
				t.Errorf("method %d: mean[%d] = %.3f, want %.3f", m, a, mean[a], wantMean[a])
			}
			for b := range 3 {
				// The regularisation (covEps on the diagonal) moves the
				// covariance by well under one unit here.
				if math.Abs(cov[a][b]-wantCov[a][b]) > 0.5 {
					t.Errorf("method %d: cov[%d][%d] = %.2f, want %.2f", m, a, b, cov[a][b], wantCov[a][b])
				}
			}
		}
	}
	if tensor.MaxAbsDiff(outs[MatchPCA], outs[MatchCholesky]) < 1 {
		t.Error("PCA and Cholesky gave the same image; one of them is not used")
	}
	if _, cov := covOf(style); math.Abs(cov[0][0]-wantCov[0][0]) < 100 {
		t.Fatal("test images already share their covariance")
	}
}

func TestMatrixHelpers(t *testing.T) {
	a := mat3{{4, 1, 0.5}, {1, 3, 0.2}, {0.5, 0.2, 2}}
	near := func(name string, got, want mat3) {
		t.Helper()
		for i := range 3 {
			for j := range 3 {
				if math.Abs(got[i][j]-want[i][j]) > 1e-9 {
					t.Fatalf("%s[%d][%d] = %v, want %v", name, i, j, got[i][j], want[i][j])
				}
			}
		}
	}
	r := symPow3(a, 0.5)
	near("sqrt²", mul3(r, r), a)
	near("sqrt·invsqrt", mul3(r, symPow3(a, -0.5)), mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})
	l := cholesky3(a)
	var lt mat3
	for i := range 3 {
		for j := range 3 {
			lt[i][j] = l[j][i]
		}
	}
	near("L·Lᵀ", mul3(l, lt), a)
	near("L·L⁻¹", mul3(l, invLower3(l)), mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})
}
