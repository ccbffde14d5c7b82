package texture

import (
	"context"
	"testing"

	"atelier/engine/style"
	"atelier/engine/tensor"
)

// TestGramEvalAllocs checks that evaluating the Gram objective again on an
// image of the same size allocates nothing, plain and through Circular.
func TestGramEvalAllocs(t *testing.T) {
	if tensor.Backend() != "openblas" {
		t.Skipf("the %s sgemm allocates internally", tensor.Backend())
	}
	net := testVGG(t)
	sample := randImage(1, 1, 3, 40, 40)
	for _, tileable := range []bool{false, true} {
		taps := DefaultTaps(net)
		weights := []float64{1, 1, 1, 1}
		o := &gramObjective{ctx: context.Background(), net: net, taps: taps, weights: weights[:len(taps)], scale: 1,
			layers: make([]style.StyleLayer, len(taps)), grads: map[string]*tensor.Tensor{}, gbuf: map[string]*tensor.Tensor{}}
		if tileable {
			o.net = NewCircular(net, 0)
		}
		if err := o.setTargets(net, sample); err != nil {
			t.Fatal(err)
		}
		x := randImage(2, 1, 3, 32, 32)
		o.img.Shape = x.Shape
		grad := make([]float32, len(x.Data))
		o.eval(x.Data, grad)
		if n := testing.AllocsPerRun(3, func() { o.eval(x.Data, grad) }); n != 0 {
			t.Errorf("tileable %v: %v allocations per evaluation", tileable, n)
		}
	}
}
