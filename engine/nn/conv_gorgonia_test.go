package nn

import (
	"fmt"
	"math"
	"testing"

	"atelier/engine/tensor"

	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"
)

func to64(t *tensor.Tensor) []float64 {
	out := make([]float64, len(t.Data))
	for i, v := range t.Data {
		out[i] = float64(v)
	}
	return out
}

// gorgoniaConv evaluates y = conv(x, w) with symmetric padding p and
// L = sum(y * r) in gorgonia (float64), returning y, dL/dx and dL/dw.
func gorgoniaConv(t *testing.T, x, w, r *tensor.Tensor, p, s, d int) (y, dx, dw []float64) {
	t.Helper()
	g := G.NewGraph()
	node := func(v *tensor.Tensor, name string) *G.Node {
		shape := gt.Shape(append([]int(nil), v.Shape...))
		return G.NewTensor(g, gt.Float64, 4, G.WithShape(shape...), G.WithName(name),
			G.WithValue(gt.New(gt.WithShape(shape...), gt.WithBacking(to64(v)))))
	}
	xn, wn, rn := node(x, "x"), node(w, "w"), node(r, "r")
	yn, err := G.Conv2d(xn, wn, gt.Shape{w.Shape[2], w.Shape[3]}, []int{p, p}, []int{s, s}, []int{d, d})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := G.HadamardProd(yn, rn)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(cost, xn, wn); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	grad := func(n *G.Node) []float64 {
		v, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		return append([]float64(nil), v.Data().([]float64)...)
	}
	return append([]float64(nil), yn.Value().Data().([]float64)...), grad(xn), grad(wn)
}

func maxRelDiff(got *tensor.Tensor, want []float64) float64 {
	scale, m := 1e-6, 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i, v := range want {
		m = math.Max(m, math.Abs(float64(got.Data[i])-v))
	}
	return m / scale
}

// TestConv2DAgainstGorgonia checks forward, dL/dx and dL/dw of plain
// (symmetrically zero-padded) convolutions against gorgonia's symbolic
// gradient.
func TestConv2DAgainstGorgonia(t *testing.T) {
	for _, tc := range []struct{ k, p, s, d, h, w int }{
		{3, 1, 1, 1, 9, 8},
		{3, 0, 2, 1, 9, 10},
		{5, 2, 2, 1, 11, 12},
		{3, 2, 1, 2, 8, 9},
		{1, 0, 1, 1, 6, 7},
		{1, 0, 2, 1, 7, 6},
	} {
		t.Run(fmt.Sprintf("k%d_p%d_s%d_d%d", tc.k, tc.p, tc.s, tc.d), func(t *testing.T) {
			x := randTensor(1, 2, 3, tc.h, tc.w)
			w := randTensor(2, 4, 3, tc.k, tc.k)
			c := NewConv2D(w, nil, ConvOpts{Stride: tc.s, Dilation: tc.d, PadTop: tc.p, PadBottom: tc.p, PadLeft: tc.p, PadRight: tc.p})
			y := c.Forward(x)
			r := randTensor(3, y.Shape...)
			wantY, wantDx, wantDw := gorgoniaConv(t, x, w, r, tc.p, tc.s, tc.d)
			if len(wantY) != y.Len() {
				t.Fatalf("gorgonia gives %d outputs, we give %v", len(wantY), y.Shape)
			}
			ZeroGrads(c.Params())
			dx := c.Backward(r)
			for _, cmp := range []struct {
				name string
				got  *tensor.Tensor
				want []float64
			}{{"y", y, wantY}, {"dx", dx, wantDx}, {"dw", c.weight.Grad, wantDw}} {
				if d := maxRelDiff(cmp.got, cmp.want); d > 1e-5 {
					t.Errorf("%s: max relative difference %g", cmp.name, d)
				}
			}
		})
	}
}
