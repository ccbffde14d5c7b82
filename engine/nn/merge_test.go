package nn

import (
	"testing"

	G "gorgonia.org/gorgonia"

	"atelier/engine/tensor"
)

func TestAddAgainstGorgonia(t *testing.T) {
	x := randTensor(1, 2, 3, 4, 5)
	y := randTensor(2, 2, 3, 4, 5)
	want, r, wantDx, dext := gorgoniaOracle(t, x, func(_ *G.ExprGraph, xn *G.Node, e []*G.Node) (*G.Node, error) {
		return G.Add(xn, e[0])
	}, y)
	a := NewAdd()
	assertClose(t, "sum", a.Forward(x, y), want, 1e-6)
	dx, dy := a.Backward(r)
	assertClose(t, "dx", dx, wantDx, 1e-6)
	assertClose(t, "dy", dy, dext[0], 1e-6)
	if &dx.Data[0] == &dy.Data[0] || &dx.Data[0] == &r.Data[0] {
		t.Fatal("Add.Backward must return two separate buffers owned by the layer")
	}
}

func TestAddShapeMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Add of different shapes did not panic")
		}
	}()
	NewAdd().Forward(tensor.New(1, 2, 3, 3), tensor.New(1, 3, 3, 3))
}

func TestConcatAgainstGorgonia(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shapes [][]int
	}{
		{"NCHW", [][]int{{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 4, 4, 5}}},
		{"NC", [][]int{{3, 2}, {3, 5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var xs []*tensor.Tensor
			for i, s := range tc.shapes {
				xs = append(xs, randTensor(int64(i+1), s...))
			}
			want, r, wantDx, dext := gorgoniaOracle(t, xs[0], func(_ *G.ExprGraph, xn *G.Node, e []*G.Node) (*G.Node, error) {
				return G.Concat(1, append([]*G.Node{xn}, e...)...)
			}, xs[1:]...)
			c := NewConcat()
			assertClose(t, "y", c.Forward(xs...), want, 0)
			dxs := c.Backward(r)
			if len(dxs) != len(xs) {
				t.Fatalf("%d gradients for %d inputs", len(dxs), len(xs))
			}
			assertClose(t, "dx0", dxs[0], wantDx, 0)
			for i, d := range dext {
				assertClose(t, "dx", dxs[i+1], d, 0)
			}
		})
	}
}

func TestConcatShapeMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Concat of mismatched spatial sizes did not panic")
		}
	}()
	NewConcat().Forward(tensor.New(1, 2, 3, 3), tensor.New(1, 2, 3, 4))
}

func TestMergesDoNotAllocate(t *testing.T) {
	x, y, z := randTensor(1, 2, 3, 8, 8), randTensor(2, 2, 3, 8, 8), randTensor(3, 2, 5, 8, 8)
	a, c := NewAdd(), NewConcat()
	dy := a.Forward(x, y).Clone()
	dc := c.Forward(x, z, y).Clone()
	allocs := testing.AllocsPerRun(5, func() {
		a.Forward(x, y)
		a.Backward(dy)
		c.Forward(x, z, y)
		c.Backward(dc)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Add and Concat forward+backward, want 0", allocs)
	}
}
