package nn

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"

	"atelier/engine/tensor"
)

// sinTensor fills x[i] = sin(0.7*i + 0.3), the input the PyTorch goldens
// below were computed from.
func sinTensor(shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(math.Sin(0.7*float64(i) + 0.3))
	}
	return x
}

func TestUpsampleAgainstPyTorch(t *testing.T) {
	// Goldens from PyTorch 1.13: F.interpolate(x, scale_factor=f,
	// mode="bilinear", align_corners=False) and F.interpolate(x, size=(5, 7),
	// mode="nearest") (the legacy floor(dst*in/out) mapping, as TF's).
	for _, tc := range []struct {
		name  string
		layer *Upsample
		in    []int
		want  []float32
	}{
		{"bilinear x2", NewUpsample(2, Bilinear), []int{1, 1, 2, 3}, []float32{
			0.29552021622657776, 0.43200790882110596, 0.7049832940101624, 0.8790194392204285, 0.9541163444519043, 0.9916648268699646,
			0.39050596952438354, 0.4532540738582611, 0.5787502527236938, 0.6288198232650757, 0.6034626960754395, 0.5907841324806213,
			0.5804774761199951, 0.4957464039325714, 0.3262842893600464, 0.1284206211566925, -0.09784460067749023, -0.2109772115945816,
			0.6754631996154785, 0.5169925689697266, 0.20005129277706146, -0.12177897989749908, -0.4484982490539551, -0.6118578910827637}},
		{"bilinear x3", NewUpsample(3, Bilinear), []int{1, 1, 2, 2}, []float32{
			0.29552021622657776, 0.29552021622657776, 0.47750380635261536, 0.6594873666763306, 0.8414709568023682, 0.8414709568023682,
			0.29552021622657776, 0.29552024602890015, 0.47750383615493774, 0.6594874262809753, 0.8414709568023682, 0.8414709568023682,
			0.5275684595108032, 0.5275684595108032, 0.613757312297821, 0.6999461650848389, 0.7861350178718567, 0.7861350178718567,
			0.7596166133880615, 0.7596166729927063, 0.7500107884407043, 0.7404049634933472, 0.7307990789413452, 0.7307990789413452,
			0.9916648268699646, 0.9916648268699646, 0.8862642049789429, 0.7808637022972107, 0.6754631996154785, 0.6754631400108337,
			0.9916648268699646, 0.9916648268699646, 0.8862642645835876, 0.7808637022972107, 0.6754631400108337, 0.6754631996154785}},
		{"resize nearest 3x4->5x7", NewResize(5, 7, Nearest), []int{1, 1, 3, 4}, []float32{
			0.29552021622657776, 0.29552021622657776, 0.8414709568023682, 0.8414709568023682, 0.9916648268699646, 0.9916648268699646, 0.6754631996154785,
			0.29552021622657776, 0.29552021622657776, 0.8414709568023682, 0.8414709568023682, 0.9916648268699646, 0.9916648268699646, 0.6754631996154785,
			0.04158066213130951, 0.04158066213130951, -0.6118578910827637, -0.6118578910827637, -0.9775301218032837, -0.9775301218032837, -0.8834546804428101,
			0.04158066213130951, 0.04158066213130951, -0.6118578910827637, -0.6118578910827637, -0.9775301218032837, -0.9775301218032837, -0.8834546804428101,
			-0.3738766610622406, -0.3738766610622406, 0.311541348695755, 0.311541348695755, 0.8504366278648376, 0.8504366278648376, 0.9893582463264465}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.layer.Forward(sinTensor(tc.in...))
			if len(y.Data) != len(tc.want) {
				t.Fatalf("output %v has %d values, want %d", y.Shape, len(y.Data), len(tc.want))
			}
			for i, w := range tc.want {
				if math.Abs(float64(y.Data[i]-w)) > 1e-6 {
					t.Fatalf("y[%d] = %v, want %v", i, y.Data[i], w)
				}
			}
		})
	}
}

func TestResizeBilinearTFLegacy(t *testing.T) {
	// TF ResizeBilinear (half_pixel_centers=false): src = dst*in/out, so
	// [0 1] resized to 4 is [0 0.5 1 1]: the image shifts up-left.
	y := NewResize(1, 4, Bilinear).Forward(tensor.FromData([]float32{0, 1}, 1, 1, 1, 2))
	for i, w := range []float32{0, 0.5, 1, 1} {
		if y.Data[i] != w {
			t.Fatalf("y = %v, want [0 0.5 1 1]", y.Data)
		}
	}
	// Downscaling 5 -> 3: src = 0, 5/3, 10/3.
	x := tensor.FromData([]float32{0, 10, 20, 30, 40}, 1, 1, 1, 5)
	y = NewResize(1, 3, Bilinear).Forward(x)
	for i, w := range []float64{0, 50.0 / 3, 100.0 / 3} {
		if math.Abs(float64(y.Data[i])-w) > 1e-4 {
			t.Fatalf("y = %v, want [0 16.67 33.33]", y.Data)
		}
	}
}

func TestUpsampleNearestAgainstGorgonia(t *testing.T) {
	for _, f := range []int{2, 3} {
		x := randTensor(int64(f), 2, 3, 4, 5)
		want, r, wantDx, _ := gorgoniaOracle(t, x, func(_ *G.ExprGraph, xn *G.Node, _ []*G.Node) (*G.Node, error) {
			return G.Upsample2D(xn, f)
		})
		l := NewUpsample(f, Nearest)
		assertClose(t, "y", l.Forward(x), want, 0)
		assertClose(t, "dx", l.Backward(r), wantDx, 1e-6)
	}
}

func TestUpsampleGradients(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    *Upsample
	}{
		{"nearest x2", NewUpsample(2, Nearest)},
		{"bilinear x2", NewUpsample(2, Bilinear)},
		{"bilinear x3", NewUpsample(3, Bilinear)},
		{"resize nearest 7x3", NewResize(7, 3, Nearest)},
		{"resize bilinear 9x11", NewResize(9, 11, Bilinear)},
		{"resize bilinear down 2x3", NewResize(2, 3, Bilinear)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLayerGrad(t, tc.l, randTensor(5, 2, 2, 4, 5), 1e-2)
		})
	}
}

func TestUpsampleRebuildsForNewSizes(t *testing.T) {
	l := NewUpsample(2, Bilinear)
	l.Forward(randTensor(1, 1, 2, 3, 3))
	x := randTensor(2, 1, 2, 5, 4)
	assertClose(t, "y after a size change", l.Forward(x), NewUpsample(2, Bilinear).Forward(x), 0)
}

func TestUpsampleDoesNotAllocate(t *testing.T) {
	x := randTensor(2, 1, 4, 16, 16)
	for _, l := range []*Upsample{NewUpsample(2, Nearest), NewUpsample(2, Bilinear), NewResize(21, 30, Nearest)} {
		dy := l.Forward(x).Clone()
		allocs := testing.AllocsPerRun(5, func() {
			l.Forward(x)
			l.Backward(dy)
		})
		if allocs != 0 {
			t.Errorf("%+v: %v allocations per forward+backward, want 0", l.Mode, allocs)
		}
	}
}
