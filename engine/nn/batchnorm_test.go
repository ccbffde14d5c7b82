package nn

import (
	"errors"
	"math"
	"testing"

	"atelier/engine/tensor"
)

func TestFoldBatchNormMatchesConvThenBN(t *testing.T) {
	for _, withBias := range []bool{true, false} {
		x := randTensor(1, 2, 3, 7, 6)
		w := randTensor(2, 4, 3, 3, 3)
		var b *tensor.Tensor
		if withBias {
			b = randTensor(3, 4)
		}
		gamma := []float32{1.5, -0.5, 0.8, 2}
		beta := []float32{0.1, 0.2, -0.3, 0}
		mean := []float32{0.3, -0.1, 0.05, 1}
		variance := []float32{0.5, 2, 0.01, 1.5}
		const eps = 1e-3
		c := NewConv2D(w.Clone(), cloneOrNil(b), ConvOpts{Pad: PadSame, Stride: 2})
		want := c.Forward(x).Clone()
		_, ch, oh, ow := want.Dims()
		for i := range want.Data {
			o := (i / (oh * ow)) % ch
			v := (float64(want.Data[i])-float64(mean[o]))/math.Sqrt(float64(variance[o])+eps)*float64(gamma[o]) + float64(beta[o])
			want.Data[i] = float32(v)
		}
		if err := FoldBatchNorm(c, gamma, beta, mean, variance, eps); err != nil {
			t.Fatal(err)
		}
		if len(c.Params()) != 2 {
			t.Fatalf("folded conv has %d params, want weight and bias", len(c.Params()))
		}
		if d := tensor.MaxAbsDiff(c.Forward(x), want); d > 1e-4 {
			t.Fatalf("bias %v: folded conv differs from conv+BN by %g", withBias, d)
		}
	}
}

func cloneOrNil(t *tensor.Tensor) *tensor.Tensor {
	if t == nil {
		return nil
	}
	return t.Clone()
}

func TestFoldBatchNormErrors(t *testing.T) {
	w := randTensor(1, 2, 1, 1, 1)
	c := NewConv2D(w, nil, ConvOpts{})
	ok := []float32{1, 1}
	if err := FoldBatchNorm(c, ok, ok, ok, []float32{1}, 1e-5); !errors.Is(err, ErrShape) {
		t.Fatalf("short variance: %v", err)
	}
	if err := FoldBatchNorm(c, ok, ok, ok, []float32{1, -1}, 1e-5); !errors.Is(err, ErrShape) {
		t.Fatalf("negative variance: %v", err)
	}
	if err := FoldBatchNorm(NewConv2D(nil, nil, ConvOpts{}), ok, ok, ok, ok, 1e-5); !errors.Is(err, ErrShape) {
		t.Fatalf("bad conv: %v", err)
	}
	if w.Data[0] != randTensor(1, 2, 1, 1, 1).Data[0] {
		t.Fatal("a failed fold changed the weight")
	}
}
