package nn

import (
	"testing"

	"atelier/engine/tensor"
)

func arange(shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	return x
}

func TestPixelShuffleOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		l     *PixelShuffle
		in    []int
		shape []int
		want  []float32
	}{
		// torch.nn.functional.pixel_shuffle(torch.arange(8.).reshape(1,8,1,1), 2)
		{"pytorch", NewPixelShuffle(2), []int{1, 8, 1, 1}, []int{1, 2, 2, 2}, []float32{0, 1, 2, 3, 4, 5, 6, 7}},
		// tf.nn.depth_to_space documentation: [1,1,1,12] holding 1..12 with
		// block 2 gives [[[[1,2,3],[4,5,6]],[[7,8,9],[10,11,12]]]] (NHWC);
		// here shifted to 0..11 and written NCHW.
		{"tf", NewDepthToSpaceTF(2), []int{1, 12, 1, 1}, []int{1, 3, 2, 2}, []float32{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11}},
		// TF with H=W=2, C=1: out[h*2+i][w*2+j] = in[i*2+j][h][w].
		{"tf 2x2", NewDepthToSpaceTF(2), []int{1, 4, 2, 2}, []int{1, 1, 4, 4}, []float32{
			0, 4, 1, 5,
			8, 12, 9, 13,
			2, 6, 3, 7,
			10, 14, 11, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.l.Forward(arange(tc.in...))
			if !tensor.ShapeEqual(y.Shape, tc.shape) {
				t.Fatalf("shape %v, want %v", y.Shape, tc.shape)
			}
			for i, w := range tc.want {
				if y.Data[i] != w {
					t.Fatalf("y = %v, want %v", y.Data, tc.want)
				}
			}
		})
	}
}

// pixelShuffleRef indexes the PyTorch definition directly.
func pixelShuffleRef(x *tensor.Tensor, r int) *tensor.Tensor {
	n, ic, h, w := x.Dims()
	oc := ic / (r * r)
	y := tensor.New(n, oc, h*r, w*r)
	for b := 0; b < n; b++ {
		for c := 0; c < oc; c++ {
			for yy := 0; yy < h*r; yy++ {
				for xx := 0; xx < w*r; xx++ {
					s := c*r*r + (yy%r)*r + xx%r
					y.Data[((b*oc+c)*h*r+yy)*w*r+xx] = x.Data[((b*ic+s)*h+yy/r)*w+xx/r]
				}
			}
		}
	}
	return y
}

func TestPixelShuffle(t *testing.T) {
	for _, r := range []int{2, 3} {
		x := randTensor(int64(r), 2, 2*r*r, 3, 4)
		for _, l := range []*PixelShuffle{NewPixelShuffle(r), NewDepthToSpaceTF(r)} {
			y := l.Forward(x)
			if !l.TF {
				assertClose(t, "y", y, pixelShuffleRef(x, r), 0)
			}
			// Round trip: the backward of a permutation is its inverse.
			assertClose(t, "round trip", l.Backward(y.Clone()), x, 0)
			checkLayerGrad(t, l, x, 1e-2)
		}
	}
}

func TestPixelShuffleBadChannelsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("6 channels for r=2 did not panic")
		}
	}()
	NewPixelShuffle(2).Forward(tensor.New(1, 6, 2, 2))
}

func TestPixelShuffleDoesNotAllocate(t *testing.T) {
	x := randTensor(2, 1, 16, 8, 8)
	l := NewDepthToSpaceTF(2)
	dy := l.Forward(x).Clone()
	if a := testing.AllocsPerRun(5, func() { l.Forward(x); l.Backward(dy) }); a != 0 {
		t.Errorf("%v allocations per forward+backward, want 0", a)
	}
}
