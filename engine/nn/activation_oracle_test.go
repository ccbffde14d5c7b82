package nn

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"

	"atelier/engine/tensor"
)

// gorgoniaOracle evaluates build(x) with gorgonia in float64 and its
// symbolic gradient of L = sum(y * r), where r is a pseudo-random tensor of
// y's shape (returned so the layer under test can be given the same dL/dy).
// This is the independent reference for the activation, pooling, upsampling
// and merge layers of this package. extra holds further float64 inputs (as
// float32 tensors) whose gradients are returned in dextra.
func gorgoniaOracle(t *testing.T, x *tensor.Tensor, build func(g *G.ExprGraph, x *G.Node, extra []*G.Node) (*G.Node, error), extra ...*tensor.Tensor) (y, r, dx *tensor.Tensor, dextra []*tensor.Tensor) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewTensor(g, G.Float64, len(x.Shape), G.WithShape(x.Shape...), G.WithName("x"), G.WithValue(toGT(x)))
	var en []*G.Node
	for i, e := range extra {
		en = append(en, G.NewTensor(g, G.Float64, len(e.Shape), G.WithShape(e.Shape...), G.WithName("e"+string(rune('0'+i))), G.WithValue(toGT(e))))
	}
	yn, err := build(g, xn, en)
	if err != nil {
		t.Fatalf("gorgonia graph: %v", err)
	}
	shape := []int(yn.Shape())
	rng := rand.New(rand.NewSource(int64(11 + tensor.Volume(shape))))
	rData := make([]float64, tensor.Volume(shape))
	for i := range rData {
		rData[i] = rng.Float64()*2 - 1
	}
	rn := G.NewTensor(g, G.Float64, len(shape), G.WithShape(shape...), G.WithName("r"),
		G.WithValue(gt.New(gt.WithShape(shape...), gt.WithBacking(rData))))
	prod, err := G.HadamardProd(yn, rn)
	if err != nil {
		t.Fatalf("gorgonia graph: %v", err)
	}
	loss, err := G.Sum(prod)
	if err != nil {
		t.Fatalf("gorgonia graph: %v", err)
	}
	wrt := append([]*G.Node{xn}, en...)
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		t.Fatalf("gorgonia grad: %v", err)
	}
	var yv G.Value
	G.Read(yn, &yv)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatalf("gorgonia run: %v", err)
	}
	y = fromGT(yv, shape)
	r = tensor.New(shape...)
	for i, v := range rData {
		r.Data[i] = float32(v)
	}
	dx = fromGT(grads[0].Value(), x.Shape)
	for i, e := range extra {
		dextra = append(dextra, fromGT(grads[i+1].Value(), e.Shape))
	}
	return y, r, dx, dextra
}

func toGT(x *tensor.Tensor) gt.Tensor {
	d := make([]float64, len(x.Data))
	for i, v := range x.Data {
		d[i] = float64(v)
	}
	return gt.New(gt.WithShape(x.Shape...), gt.WithBacking(d))
}

func fromGT(v G.Value, shape []int) *tensor.Tensor {
	d := v.Data().([]float64)
	out := tensor.New(shape...)
	for i, f := range d {
		out.Data[i] = float32(f)
	}
	return out
}

// assertClose fails when got and want differ in shape or by more than
// tol*(1+|want|) anywhere.
func assertClose(t *testing.T, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if !tensor.ShapeEqual(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	for i := range want.Data {
		g, w := float64(got.Data[i]), float64(want.Data[i])
		if math.Abs(g-w) > tol*(1+math.Abs(w)) || math.IsNaN(g) {
			t.Fatalf("%s[%d] = %g, want %g (shape %v)", what, i, g, w, want.Shape)
		}
	}
}

// awayFromZero pushes every value at least m away from 0 so finite
// differences never straddle the kink of ReLU-like layers.
func awayFromZero(x *tensor.Tensor, m float32) *tensor.Tensor {
	for i, v := range x.Data {
		if v >= 0 && v < m {
			x.Data[i] = v + m
		} else if v < 0 && v > -m {
			x.Data[i] = v - m
		}
	}
	return x
}
